package s3api

import (
	"bytes"
	"crypto/md5"
	"encoding/xml"
	"errors"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/strongboxdb/strongbox/objstore"
	"github.com/strongboxdb/strongbox/s3api/checksum"
)

// Multipart uploads: CreateMultipartUpload (POST /b/k?uploads), UploadPart
// and UploadPartCopy (PUT /b/k?partNumber=N&uploadId=U), Complete (POST
// /b/k?uploadId=U), Abort (DELETE), ListParts (GET /b/k?uploadId=U) and
// ListMultipartUploads (GET /b?uploads).
//
// Every part is a blob, whatever its size: the handler streams it into
// Backend.StoreBlob (MD5 and checksums computed in the same pass), verifies
// what the client declared, and only then records the part with one
// command. The upload's identity (bucket, key, upload ID) is checked by the
// backend, which answers NoSuchUpload when any of the three differs.
//
// Checksums follow S3: an upload created with x-amz-checksum-algorithm A
// takes only A's checksum on its parts (another algorithm is "Checksum Type
// mismatch"); with the COMPOSITE type every part must carry it and every
// part of the Complete list must name it, with FULL_OBJECT the server
// computes it for parts sent without one. An upload without an algorithm
// takes whatever checksum a part brings, verifies it and returns it, and
// records the default CRC64NVME of every part as well, so the completed
// object gets S3's default full-object CRC64NVME.

// maxCompleteBody bounds a CompleteMultipartUpload document. 10,000 parts
// written by an SDK take about 200 bytes each with one checksum, pretty-
// printed, and about 300 with the longest (SHA512, 88 characters); 8 MiB
// leaves ample room (a part may carry only one checksum). The
// document is decoded as it streams, in pieces of at most maxXMLPiece
// bytes, so memory follows the number of parts (capped at 10,000), not
// this bound.
const maxCompleteBody = 8 << 20

// maxListParts caps ListParts and ListMultipartUploads pages, as S3 does.
const maxListParts = 1000

// checksumFields are the Checksum* elements S3 puts in parts, results and
// attributes, in the order of its API reference (alphabetical, which is
// also how the SDKs serialize CompletedPart). Embedded, its fields are
// elements of the enclosing struct.
type checksumFields struct {
	ChecksumCRC32     string `xml:"ChecksumCRC32,omitempty"`
	ChecksumCRC32C    string `xml:"ChecksumCRC32C,omitempty"`
	ChecksumCRC64NVME string `xml:"ChecksumCRC64NVME,omitempty"`
	ChecksumMD5       string `xml:"ChecksumMD5,omitempty"`
	ChecksumSHA1      string `xml:"ChecksumSHA1,omitempty"`
	ChecksumSHA256    string `xml:"ChecksumSHA256,omitempty"`
	ChecksumSHA512    string `xml:"ChecksumSHA512,omitempty"`
	ChecksumXXHASH128 string `xml:"ChecksumXXHASH128,omitempty"`
	ChecksumXXHASH3   string `xml:"ChecksumXXHASH3,omitempty"`
	ChecksumXXHASH64  string `xml:"ChecksumXXHASH64,omitempty"`
}

// field returns the element holding alg's value, nil for an invalid alg.
func (c *checksumFields) field(alg checksum.Algorithm) *string {
	switch alg {
	case checksum.CRC32:
		return &c.ChecksumCRC32
	case checksum.CRC32C:
		return &c.ChecksumCRC32C
	case checksum.CRC64NVME:
		return &c.ChecksumCRC64NVME
	case checksum.MD5:
		return &c.ChecksumMD5
	case checksum.SHA1:
		return &c.ChecksumSHA1
	case checksum.SHA256:
		return &c.ChecksumSHA256
	case checksum.SHA512:
		return &c.ChecksumSHA512
	case checksum.XXHASH64:
		return &c.ChecksumXXHASH64
	case checksum.XXHASH3:
		return &c.ChecksumXXHASH3
	case checksum.XXHASH128:
		return &c.ChecksumXXHASH128
	}
	return nil
}

// checksumXML fills the elements from checksums keyed by lowercase
// algorithm name; names that are no algorithm are ignored.
func checksumXML(m map[string]string) checksumFields {
	var c checksumFields
	for _, alg := range checksum.All() {
		*c.field(alg) = m[alg.String()]
	}
	return c
}

// values returns the non-empty checksums keyed by lowercase algorithm.
func (c checksumFields) values() map[string]string {
	var out map[string]string
	for _, alg := range checksum.All() {
		if v := strings.TrimSpace(*c.field(alg)); v != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[alg.String()] = v
		}
	}
	return out
}

type initiateMultipartUploadResult struct {
	XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
	Xmlns    string   `xml:"xmlns,attr"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	UploadID string   `xml:"UploadId"`
}

type copyPartResult struct {
	XMLName      xml.Name `xml:"CopyPartResult"`
	Xmlns        string   `xml:"xmlns,attr"`
	ETag         string   `xml:"ETag"`
	LastModified string   `xml:"LastModified"`
	checksumFields
}

type completeMultipartUploadResult struct {
	XMLName  xml.Name `xml:"CompleteMultipartUploadResult"`
	Xmlns    string   `xml:"xmlns,attr"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
	checksumFields
	ChecksumType string `xml:"ChecksumType,omitempty"`
}

type listPartsResult struct {
	XMLName              xml.Name    `xml:"ListPartsResult"`
	Xmlns                string      `xml:"xmlns,attr"`
	Bucket               string      `xml:"Bucket"`
	Key                  string      `xml:"Key"`
	UploadID             string      `xml:"UploadId"`
	Initiator            owner       `xml:"Initiator"`
	Owner                owner       `xml:"Owner"`
	StorageClass         string      `xml:"StorageClass"`
	PartNumberMarker     int         `xml:"PartNumberMarker"`
	NextPartNumberMarker int         `xml:"NextPartNumberMarker"`
	MaxParts             int         `xml:"MaxParts"`
	IsTruncated          bool        `xml:"IsTruncated"`
	Parts                []partEntry `xml:"Part"`
	ChecksumAlgorithm    string      `xml:"ChecksumAlgorithm,omitempty"`
	ChecksumType         string      `xml:"ChecksumType,omitempty"`
}

type partEntry struct {
	PartNumber   int    `xml:"PartNumber"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
	checksumFields
}

type listMultipartUploadsResult struct {
	XMLName            xml.Name       `xml:"ListMultipartUploadsResult"`
	Xmlns              string         `xml:"xmlns,attr"`
	Bucket             string         `xml:"Bucket"`
	KeyMarker          string         `xml:"KeyMarker"`
	UploadIDMarker     string         `xml:"UploadIdMarker"`
	NextKeyMarker      string         `xml:"NextKeyMarker"`
	NextUploadIDMarker string         `xml:"NextUploadIdMarker"`
	Delimiter          string         `xml:"Delimiter,omitempty"`
	Prefix             string         `xml:"Prefix"`
	MaxUploads         int            `xml:"MaxUploads"`
	IsTruncated        bool           `xml:"IsTruncated"`
	Uploads            []uploadEntry  `xml:"Upload"`
	CommonPrefixes     []commonPrefix `xml:"CommonPrefixes"`
	EncodingType       string         `xml:"EncodingType,omitempty"`
}

type uploadEntry struct {
	Key               string `xml:"Key"`
	UploadID          string `xml:"UploadId"`
	Initiator         owner  `xml:"Initiator"`
	Owner             owner  `xml:"Owner"`
	StorageClass      string `xml:"StorageClass"`
	Initiated         string `xml:"Initiated"`
	ChecksumAlgorithm string `xml:"ChecksumAlgorithm,omitempty"`
	ChecksumType      string `xml:"ChecksumType,omitempty"`
}

func (s *Server) createMultipartUpload(w http.ResponseWriter, r *http.Request) {
	bucket, key := pathVars(r)
	u, err := parseCreateUpload(r.Header, bucket, key)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.opContext(r)
	defer cancel()
	stored, err := s.backend.CreateMultipartUpload(ctx, u)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if stored.ChecksumAlgorithm != "" {
		w.Header().Set("x-amz-checksum-algorithm", strings.ToUpper(stored.ChecksumAlgorithm))
		w.Header().Set("x-amz-checksum-type", stored.ChecksumType)
	}
	s.writeXML(w, http.StatusOK, initiateMultipartUploadResult{
		Xmlns:    s3Namespace,
		Bucket:   bucket,
		Key:      key,
		UploadID: stored.UploadID,
	})
}

// parseCreateUpload turns CreateMultipartUpload's headers into the upload
// to create: the future object's metadata and the checksum the parts will
// carry.
func parseCreateUpload(h http.Header, bucket, key string) (*objstore.Upload, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := checkWriteHeaders(h); err != nil {
		return nil, err
	}
	u := &objstore.Upload{Bucket: bucket, Key: key, ContentType: h.Get("Content-Type"), Headers: storedHeaderValues(h)}
	if u.ContentType == "" {
		u.ContentType = "binary/octet-stream"
	}
	var err error
	if u.UserMeta, err = userMetadata(h); err != nil {
		return nil, err
	}
	if u.Tags, err = taggingHeader(h); err != nil {
		return nil, err
	}
	u.ChecksumAlgorithm, u.ChecksumType, err = parseUploadChecksum(h.Get("X-Amz-Checksum-Algorithm"), h.Get("X-Amz-Checksum-Type"))
	if err != nil {
		return nil, err
	}
	return u, nil
}

// parseUploadChecksum validates x-amz-checksum-algorithm and
// x-amz-checksum-type. Without a type the algorithm's default applies:
// COMPOSITE, except CRC64NVME, which S3 supports only as FULL_OBJECT.
// FULL_OBJECT is for the CRCs only; MD5, the SHAs and the xxHashes are
// COMPOSITE only (see checksum.Algorithm.SupportsFullObject).
func parseUploadChecksum(algName, typ string) (alg, checksumType string, err error) {
	if typ != "" && typ != objstore.ChecksumComposite && typ != objstore.ChecksumFullObject {
		return "", "", ErrInvalidChecksumType
	}
	if algName == "" {
		if typ != "" {
			return "", "", ErrChecksumTypeAlone
		}
		return "", "", nil
	}
	a, err := checksum.ParseAlgorithm(algName)
	if err != nil {
		return "", "", ErrUnsupportedChecksum
	}
	switch {
	case typ == "" && a.SupportsComposite():
		typ = objstore.ChecksumComposite
	case typ == "":
		typ = objstore.ChecksumFullObject
	case typ == objstore.ChecksumComposite && !a.SupportsComposite(),
		typ == objstore.ChecksumFullObject && !a.SupportsFullObject():
		return "", "", ErrInvalidRequest.with("The " + typ + " checksum type cannot be used with the " + a.String() + " checksum algorithm.")
	}
	return a.String(), typ, nil
}

// lookupUpload reads an upload's record (NoSuchUpload, NoSuchBucket).
func (s *Server) lookupUpload(r *http.Request, bucket, key, uploadID string) (objstore.Upload, error) {
	if !objstore.ValidUploadID(uploadID) {
		return objstore.Upload{}, ErrNoSuchUpload
	}
	ctx, cancel := s.opContext(r)
	defer cancel()
	res, err := s.backend.ListParts(ctx, bucket, key, uploadID, 0, 0)
	return res.Upload, err
}

// uploadChecksum returns the algorithm every part of u is hashed with:
// the upload's, or for an upload created without one S3's default, from
// which Complete derives the object's full-object checksum.
func uploadChecksum(u objstore.Upload) (checksum.Algorithm, error) {
	if u.ChecksumAlgorithm == "" {
		return checksum.Default, nil
	}
	return checksum.ParseAlgorithm(u.ChecksumAlgorithm)
}

// partChecksums decides which checksum algorithms a part is hashed with:
// the client's, and the upload's (uploadChecksum). It refuses a part whose
// algorithm is not the upload's declared one, or (COMPOSITE) that carries
// none; an upload without an algorithm takes any.
func partChecksums(u objstore.Upload, client checksum.Algorithm) ([]checksum.Algorithm, error) {
	want, err := uploadChecksum(u)
	if err != nil {
		return nil, err
	}
	if u.ChecksumAlgorithm == "" {
		if client.Valid() && client != want {
			return []checksum.Algorithm{client, want}, nil
		}
		return []checksum.Algorithm{want}, nil
	}
	switch {
	case client.Valid() && client != want:
		return nil, errChecksumTypeMismatch(want.String(), client.String())
	case !client.Valid() && u.ChecksumType == objstore.ChecksumComposite:
		return nil, errChecksumTypeMismatch(want.String(), "")
	}
	return []checksum.Algorithm{want}, nil
}

// partTarget reads what UploadPart and UploadPartCopy address: the
// bucket, the key and the part number; and refuses the headers of
// features they cannot honour (SSE-C keys).
func partTarget(r *http.Request) (bucket, key string, part int, err error) {
	bucket, key = pathVars(r)
	if part, err = parsePartNumber(r.URL.Query().Get("partNumber")); err != nil {
		return "", "", 0, err
	}
	if err = checkWriteHeaders(r.Header); err != nil {
		return "", "", 0, err
	}
	return bucket, key, part, checkKey(key)
}

func (s *Server) uploadPart(w http.ResponseWriter, r *http.Request) {
	bucket, key, part, err := partTarget(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	sums, err := parseBodySums(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	size, err := payloadSize(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if size > objstore.MaxPartSize {
		s.writeError(w, r, ErrEntityTooLarge)
		return
	}
	// The upload is looked up before the body is read: a missing upload
	// costs the client nothing (net/http sends 100 Continue only when the
	// body is read), and its checksum algorithm decides the hashing.
	uploadID := q.Get("uploadId")
	u, err := s.lookupUpload(r, bucket, key, uploadID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	algs, err := partChecksums(u, sums.algorithm())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	limit := int64(objstore.MaxPartSize)
	if size >= 0 {
		limit = size
	}
	ref, err := s.storeBlob(r, r.Body, size, limit, sums.algs(algs...))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := sums.verifyBlob(ref); err != nil {
		s.discardBlob(r, ref)
		s.writeError(w, r, err)
		return
	}
	ref.Checksums = keepChecksums(ref.Checksums, sums.algs(algs...))
	ctx, cancel := s.opContext(r)
	defer cancel()
	if _, err := s.backend.UploadPart(ctx, &objstore.UploadPartRequest{
		Bucket: bucket, Key: key, UploadID: uploadID, PartNumber: part, Blob: ref,
	}); err != nil {
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("ETag", quoteETag(ref.MD5))
	for alg, v := range ref.Checksums {
		h.Set("x-amz-checksum-"+alg, v)
	}
	w.WriteHeader(http.StatusOK)
}

// keepChecksums returns the values of sums for algs only: a part records
// the checksums that were asked for, not whatever else a store computed.
func keepChecksums(sums map[string]string, algs []checksum.Algorithm) map[string]string {
	var out map[string]string
	for _, alg := range algs {
		if v, ok := sums[alg.String()]; ok {
			if out == nil {
				out = map[string]string{}
			}
			out[alg.String()] = v
		}
	}
	return out
}

func (s *Server) uploadPartCopy(w http.ResponseWriter, r *http.Request) {
	bucket, key, part, err := partTarget(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	h := r.Header
	srcBucket, srcKey, err := parseCopySource(h.Get("X-Amz-Copy-Source"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	uploadID := q.Get("uploadId")
	u, err := s.lookupUpload(r, bucket, key, uploadID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// The server computes the part's checksum: a copy has no client value
	// to verify.
	alg, err := uploadChecksum(u)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	algs := []checksum.Algorithm{alg}

	ctx, cancel := s.opContext(r)
	defer cancel()
	info, body, err := s.backend.GetObject(ctx, srcBucket, srcKey)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := sourceConditions(h).eval(info); err != nil {
		s.writeError(w, r, ErrPreconditionFailed)
		return
	}
	start, end := int64(0), info.Size
	if v := h.Get("X-Amz-Copy-Source-Range"); v != "" {
		if start, end, err = parseCopySourceRange(v, info.Size); err != nil {
			s.writeError(w, r, err)
			return
		}
	} else if info.Size > objstore.MaxSinglePut {
		s.writeError(w, r, ErrCopySourceTooLarge)
		return
	}
	n := end - start
	if n > objstore.MaxPartSize {
		s.writeError(w, r, ErrEntityTooLarge)
		return
	}
	var src io.Reader = bytes.NewReader(nil)
	if n > 0 {
		// Like GET, the copy runs on the request's context: it may take
		// longer than RequestTimeout.
		rc, err := body.Open(r.Context(), start, n)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		defer rc.Close()
		src = rc
	}
	// A failed read of the source is the store's failure, not the
	// client's: StoreBlob's error is reported as it is.
	ref, err := s.backend.StoreBlob(r.Context(), src, n, algs...)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if ref.Size != n {
		s.discardBlob(r, ref)
		s.writeError(w, r, errors.New("s3api: part copy stored fewer bytes than the source range"))
		return
	}
	ref.Checksums = keepChecksums(ref.Checksums, algs)
	ctx, cancel = s.opContext(r)
	defer cancel()
	pi, err := s.backend.UploadPart(ctx, &objstore.UploadPartRequest{
		Bucket: bucket, Key: key, UploadID: uploadID, PartNumber: part, Blob: ref,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeXML(w, http.StatusOK, copyPartResult{
		Xmlns:          s3Namespace,
		ETag:           quoteETag(ref.MD5),
		LastModified:   xmlTime(pi.LastModified),
		checksumFields: checksumXML(ref.Checksums),
	})
}

// parseCopySourceRange parses x-amz-copy-source-range, which unlike Range
// must be exactly "bytes=first-last" and lie within the source, and
// returns the half-open interval.
func parseCopySourceRange(v string, size int64) (start, end int64, err error) {
	spec, ok := strings.CutPrefix(v, "bytes=")
	first, last, ok2 := strings.Cut(spec, "-")
	if !ok || !ok2 || !isDigits(first) || !isDigits(last) {
		return 0, 0, ErrCopySourceRange
	}
	a, err1 := strconv.ParseInt(first, 10, 64)
	b, err2 := strconv.ParseInt(last, 10, 64)
	if err1 != nil || err2 != nil || a > b || b >= size {
		return 0, 0, ErrInvalidArgument.with("Range specified is not valid for source object of size: " + strconv.FormatInt(size, 10))
	}
	return a, b + 1, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// sourceConditions are the x-amz-copy-source-if-* headers of a copy.
func sourceConditions(h http.Header) conditions {
	return conditions{
		ifMatch:           h.Get("X-Amz-Copy-Source-If-Match"),
		ifNoneMatch:       h.Get("X-Amz-Copy-Source-If-None-Match"),
		ifModifiedSince:   h.Get("X-Amz-Copy-Source-If-Modified-Since"),
		ifUnmodifiedSince: h.Get("X-Amz-Copy-Source-If-Unmodified-Since"),
	}
}

func (s *Server) completeMultipartUpload(w http.ResponseWriter, r *http.Request) {
	bucket, key := pathVars(r)
	if err := checkKey(key); err != nil {
		s.writeError(w, r, err)
		return
	}
	h := r.Header
	req := &objstore.CompleteRequest{
		Bucket: bucket, Key: key, UploadID: r.URL.Query().Get("uploadId"),
		IfMatch: h.Get("If-Match"), IfNoneMatch: h.Get("If-None-Match"),
		DefaultChecksum: true,
	}
	if req.IfNoneMatch != "" && req.IfNoneMatch != "*" {
		s.writeError(w, r, ErrNotImplemented.with("If-None-Match on PUT supports only *"))
		return
	}
	if !objstore.ValidUploadID(req.UploadID) {
		s.writeError(w, r, ErrNoSuchUpload)
		return
	}
	// x-amz-checksum-* on a Complete is the whole object's checksum, to
	// compare with the one computed from the parts. It is passed on as
	// sent: a COMPOSITE value ends in "-N" and a malformed one simply does
	// not match (BadDigest, as in S3).
	var headerAlg checksum.Algorithm
	for _, alg := range checksum.All() {
		if v := strings.TrimSpace(firstValue(h[alg.CanonicalHeader()])); v != "" {
			if req.Checksums != nil {
				s.writeError(w, r, ErrMultipleChecksums)
				return
			}
			req.Checksums = map[string]string{alg.String(): v}
			headerAlg = alg
		}
	}
	typ := h.Get("X-Amz-Checksum-Type")
	if typ != "" && typ != objstore.ChecksumComposite && typ != objstore.ChecksumFullObject {
		s.writeError(w, r, ErrInvalidChecksumType)
		return
	}
	parts, err := readCompleteParts(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	req.Parts = parts

	u, err := s.lookupUpload(r, bucket, key, req.UploadID)
	switch {
	case errors.Is(err, objstore.ErrNoSuchUpload):
		// Possibly completed already: the backend answers a retried
		// Complete with its result, so let it decide.
	case err != nil:
		s.writeError(w, r, err)
		return
	default:
		if err := checkCompleteChecksums(u, req, headerAlg, typ); err != nil {
			s.writeError(w, r, err)
			return
		}
	}

	ctx, cancel := s.opContext(r)
	defer cancel()
	info, err := s.backend.CompleteMultipartUpload(ctx, req)
	if err != nil {
		if errors.Is(err, objstore.ErrBadDigest) && headerAlg.Valid() {
			err = errBadChecksum(headerAlg)
		}
		s.writeError(w, r, err)
		return
	}
	out := completeMultipartUploadResult{
		Xmlns:          s3Namespace,
		Location:       s.objectLocation(r, bucket, key),
		Bucket:         bucket,
		Key:            key,
		ETag:           quoteETag(info.ETag),
		checksumFields: checksumXML(info.Checksums),
	}
	if len(info.Checksums) > 0 {
		out.ChecksumType = info.ChecksumType
		if out.ChecksumType == "" {
			out.ChecksumType = objstore.ChecksumFullObject
		}
	}
	s.writeXML(w, http.StatusOK, out)
}

// checkCompleteChecksums applies S3's checksum rules for a Complete of
// upload u. Without an upload algorithm, S3 accepts a whole-object checksum
// header and ignores it; with one, the header must be of that algorithm,
// the checksum type must be the upload's, and for COMPOSITE every listed
// part must carry its checksum (the backend compares the values).
func checkCompleteChecksums(u objstore.Upload, req *objstore.CompleteRequest, headerAlg checksum.Algorithm, typ string) error {
	if u.ChecksumAlgorithm == "" {
		req.Checksums = nil
		return nil
	}
	if headerAlg.Valid() && headerAlg.String() != u.ChecksumAlgorithm {
		return errChecksumTypeMismatch(u.ChecksumAlgorithm, headerAlg.String())
	}
	if typ != "" && typ != u.ChecksumType {
		return ErrBadDigest.with("The upload was created using the " + u.ChecksumType + " checksum mode. The complete request must use the same checksum mode.")
	}
	if u.ChecksumType != objstore.ChecksumComposite {
		return nil
	}
	for _, p := range req.Parts {
		if len(p.Checksums) == 0 {
			return ErrInvalidRequest.with("The upload was created using a " + u.ChecksumAlgorithm +
				" checksum. The complete request must include the checksum for each part. It was missing for part " +
				strconv.Itoa(p.PartNumber) + " in the request.")
		}
	}
	return nil
}

// completePartXML is one <Part> of a CompleteMultipartUpload document.
type completePartXML struct {
	PartNumber *string `xml:"PartNumber"`
	ETag       *string `xml:"ETag"`
	checksumFields
}

// readCompleteParts reads and validates the CompleteMultipartUpload
// document. It is decoded part by part as it arrives, so memory is bounded
// by the 10,000 parts S3 allows, whatever the body's size; the body is
// nonetheless read to its end (or refused past maxCompleteBody), because
// the signature layer verifies it only there. A Content-MD5, when sent, is
// checked (the x-amz-checksum-* headers of a Complete describe the object,
// not this document).
func readCompleteParts(r *http.Request) ([]objstore.CompletePart, error) {
	wantMD5, err := contentMD5(r.Header)
	if err != nil {
		return nil, err
	}
	limited := &io.LimitedReader{R: r.Body, N: maxCompleteBody + 1}
	body := &trackedBody{r: limited}
	var sum hash.Hash
	var src io.Reader = body
	if wantMD5 != nil {
		sum = md5.New()
		src = io.TeeReader(body, sum)
	}
	parts, perr := decodeCompleteParts(src)
	// Read what the decoder left, to the end of the body.
	_, _ = io.Copy(io.Discard, src)
	switch {
	case body.err != nil:
		return nil, bodyReadError(body.err)
	case limited.N <= 0:
		return nil, ErrMalformedXML
	case perr != nil:
		return nil, perr
	case sum != nil && !bytes.Equal(sum.Sum(nil), wantMD5):
		return nil, ErrBadDigest
	}
	return parts, nil
}

// decodeCompleteParts parses <CompleteMultipartUpload><Part>... from src.
// Anything but a well-formed document with that root and 1 to 10,000
// parts, each with a numeric PartNumber and an ETag, is MalformedXML; a
// PartNumber below 1 is InvalidArgument, more than one checksum on a part
// too. Order, existence and ETags of the parts are the backend's to check.
// Elements other than Part are skipped; each takes at most maxXMLPiece
// bytes (decodeXMLList).
func decodeCompleteParts(src io.Reader) ([]objstore.CompletePart, error) {
	var parts []objstore.CompletePart
	err := decodeXMLList(src, "CompleteMultipartUpload", func(d *xml.Decoder, se *xml.StartElement) error {
		if se.Name.Local != "Part" {
			return d.Skip()
		}
		if len(parts) == objstore.MaxParts {
			return ErrMalformedXML
		}
		var p completePartXML
		if err := d.DecodeElement(&p, se); err != nil || p.PartNumber == nil || p.ETag == nil {
			return ErrMalformedXML
		}
		n, err := strconv.Atoi(strings.TrimSpace(*p.PartNumber))
		if err != nil {
			return ErrMalformedXML
		}
		if n < 1 {
			return ErrCompletePartNumber
		}
		if n > objstore.MaxParts {
			return ErrInvalidArgument.with("Part number must be an integer between 1 and 10000, inclusive")
		}
		sums := p.values()
		if len(sums) > 1 {
			return ErrMultiplePartChecksums
		}
		parts = append(parts, objstore.CompletePart{PartNumber: n, ETag: strings.TrimSpace(*p.ETag), Checksums: sums})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		return nil, ErrMalformedXML
	}
	return parts, nil
}

// objectLocation is CompleteMultipartUploadResult's Location: the object's
// URL in the style the request used, the key escaped as one path segment
// ("/" included), as S3 writes it.
func (s *Server) objectLocation(r *http.Request, bucket, key string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	path := "/" + url.PathEscape(bucket) + "/" + url.PathEscape(key)
	if s.hostBucket(r) != "" {
		path = "/" + url.PathEscape(key)
	}
	return scheme + "://" + r.Host + path
}

func (s *Server) abortMultipartUpload(w http.ResponseWriter, r *http.Request) {
	bucket, key := pathVars(r)
	if err := checkKey(key); err != nil {
		s.writeError(w, r, err)
		return
	}
	uploadID := r.URL.Query().Get("uploadId")
	if !objstore.ValidUploadID(uploadID) {
		s.writeError(w, r, ErrNoSuchUpload)
		return
	}
	ctx, cancel := s.opContext(r)
	defer cancel()
	if err := s.backend.AbortMultipartUpload(ctx, bucket, key, uploadID); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// listPartsParams are ListParts' validated query parameters.
type listPartsParams struct {
	marker, maxParts int
}

func parseListPartsParams(q url.Values) (listPartsParams, error) {
	p := listPartsParams{maxParts: maxListParts}
	if v, ok := q["max-parts"]; ok {
		n, err := strconv.ParseInt(v[0], 10, 32)
		if err != nil || n < 0 {
			return p, ErrInvalidMaxParts
		}
		p.maxParts = min(int(n), maxListParts)
	}
	if v, ok := q["part-number-marker"]; ok && v[0] != "" {
		n, err := strconv.ParseInt(v[0], 10, 32)
		if err != nil || n < 0 {
			return p, ErrInvalidPartMarker
		}
		p.marker = int(n)
	}
	return p, nil
}

func (s *Server) listParts(w http.ResponseWriter, r *http.Request) {
	bucket, key := pathVars(r)
	q := r.URL.Query()
	p, err := parseListPartsParams(q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	uploadID := q.Get("uploadId")
	if !objstore.ValidUploadID(uploadID) {
		s.writeError(w, r, ErrNoSuchUpload)
		return
	}
	ctx, cancel := s.opContext(r)
	defer cancel()
	res, err := s.backend.ListParts(ctx, bucket, key, uploadID, p.marker, p.maxParts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeXML(w, http.StatusOK, listPartsXML(bucket, key, uploadID, p, res))
}

// listPartsXML renders a ListParts page. NextPartNumberMarker is the last
// part listed, or the marker when the page is empty; a page of max-parts 0
// is never truncated (S3's answers).
func listPartsXML(bucket, key, uploadID string, p listPartsParams, res objstore.ListPartsResult) listPartsResult {
	out := listPartsResult{
		Xmlns:                s3Namespace,
		Bucket:               bucket,
		Key:                  key,
		UploadID:             uploadID,
		Initiator:            defaultOwner,
		Owner:                defaultOwner,
		StorageClass:         "STANDARD",
		PartNumberMarker:     p.marker,
		NextPartNumberMarker: p.marker,
		MaxParts:             p.maxParts,
		IsTruncated:          res.IsTruncated && p.maxParts > 0,
		Parts:                make([]partEntry, 0, len(res.Parts)),
		ChecksumAlgorithm:    strings.ToUpper(res.Upload.ChecksumAlgorithm),
	}
	if out.ChecksumAlgorithm != "" {
		out.ChecksumType = res.Upload.ChecksumType
	}
	for _, part := range res.Parts {
		out.Parts = append(out.Parts, partEntry{
			PartNumber:     part.PartNumber,
			LastModified:   xmlTime(part.LastModified),
			ETag:           quoteETag(part.Blob.MD5),
			Size:           part.Blob.Size,
			checksumFields: checksumXML(part.Blob.Checksums),
		})
		out.NextPartNumberMarker = part.PartNumber
	}
	return out
}

// listUploadsParams are ListMultipartUploads' validated query parameters.
type listUploadsParams struct {
	opts objstore.ListUploadsOptions
	// uploadIDMarker is echoed as sent; S3 ignores it without key-marker.
	uploadIDMarker string
	list           listParams // for encoding-type
}

func parseListUploadsParams(q url.Values) (listUploadsParams, error) {
	p := listUploadsParams{opts: objstore.ListUploadsOptions{
		Prefix:     q.Get("prefix"),
		Delimiter:  q.Get("delimiter"),
		KeyMarker:  q.Get("key-marker"),
		MaxUploads: maxListParts,
	}}
	if p.opts.KeyMarker != "" {
		p.uploadIDMarker = q.Get("upload-id-marker")
		p.opts.UploadIDMarker = p.uploadIDMarker
	}
	if v, ok := q["max-uploads"]; ok {
		n, err := strconv.ParseInt(v[0], 10, 32)
		if err != nil || n < 0 {
			return p, ErrInvalidMaxUploads
		}
		p.opts.MaxUploads = min(int(n), maxListParts)
	}
	switch et := q.Get("encoding-type"); et {
	case "":
	case "url":
		p.list.encodeURL = true
	default:
		return p, ErrInvalidEncodingType
	}
	return p, nil
}

func (s *Server) listMultipartUploads(w http.ResponseWriter, r *http.Request) {
	bucket, _ := pathVars(r)
	p, err := parseListUploadsParams(r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.opContext(r)
	defer cancel()
	res, err := s.backend.ListMultipartUploads(ctx, bucket, p.opts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeXML(w, http.StatusOK, listUploadsXML(bucket, p, res))
}

// listUploadsXML renders a ListMultipartUploads page. Like S3, the Next
// markers name the last entry of the page (an upload, or a common prefix
// with an empty upload ID) whether or not the listing is truncated, and a
// page of max-uploads 0 is never truncated.
func listUploadsXML(bucket string, p listUploadsParams, res objstore.ListUploadsResult) listMultipartUploadsResult {
	enc := p.list.encode
	out := listMultipartUploadsResult{
		Xmlns:          s3Namespace,
		Bucket:         bucket,
		KeyMarker:      enc(p.opts.KeyMarker),
		UploadIDMarker: p.uploadIDMarker,
		Delimiter:      enc(p.opts.Delimiter),
		Prefix:         enc(p.opts.Prefix),
		MaxUploads:     p.opts.MaxUploads,
		IsTruncated:    res.IsTruncated && p.opts.MaxUploads > 0,
		Uploads:        make([]uploadEntry, 0, len(res.Uploads)),
		CommonPrefixes: make([]commonPrefix, 0, len(res.CommonPrefixes)),
	}
	if p.list.encodeURL {
		out.EncodingType = "url"
	}
	var nextKey, nextID string
	for _, u := range res.Uploads {
		e := uploadEntry{
			Key:               enc(u.Key),
			UploadID:          u.UploadID,
			Initiator:         defaultOwner,
			Owner:             defaultOwner,
			StorageClass:      "STANDARD",
			Initiated:         xmlTime(u.Initiated),
			ChecksumAlgorithm: strings.ToUpper(u.ChecksumAlgorithm),
		}
		if e.ChecksumAlgorithm != "" {
			e.ChecksumType = u.ChecksumType
		}
		out.Uploads = append(out.Uploads, e)
		if u.Key >= nextKey {
			nextKey, nextID = u.Key, u.UploadID
		}
	}
	for _, cp := range res.CommonPrefixes {
		out.CommonPrefixes = append(out.CommonPrefixes, commonPrefix{Prefix: enc(cp)})
		if cp > nextKey {
			nextKey, nextID = cp, ""
		}
	}
	if out.IsTruncated && res.NextKeyMarker != "" {
		nextKey, nextID = res.NextKeyMarker, res.NextUploadIDMarker
	}
	out.NextKeyMarker, out.NextUploadIDMarker = enc(nextKey), nextID
	return out
}

// uploadsWithKey answers GET /b/k?uploads: ListMultipartUploads is a
// bucket operation.
func (s *Server) uploadsWithKey(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, ErrUploadsWithKey)
}

// partNumberWithoutUploadID answers PUT /b/k?partNumber=N with no upload.
func (s *Server) partNumberWithoutUploadID(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, ErrPartNumberNoUploadID)
}
