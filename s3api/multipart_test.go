package s3api

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strongboxdb/strongbox/objstore"
	"github.com/strongboxdb/strongbox/s3api/checksum"
	"github.com/strongboxdb/strongbox/s3api/sigv4"
)

// Unit tests of the parsing and validation behind large objects and
// multipart uploads, then the handlers end to end over memBackend. The
// operations against a real cluster and the AWS SDK are tested in server/.

func TestDecodeCompleteParts(t *testing.T) {
	doc := func(parts string) string {
		return `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
			`<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` + parts + `</CompleteMultipartUpload>` + "\n"
	}
	part := func(n, etag, extra string) string {
		return "<Part><PartNumber>" + n + "</PartNumber><ETag>" + etag + "</ETag>" + extra + "</Part>"
	}
	got, err := decodeCompleteParts(strings.NewReader(doc(
		part("1", `"aaa"`, "") +
			part(" 2 ", `&quot;bbb&quot;`, "<ChecksumCRC32>AAAAAA==</ChecksumCRC32>") +
			"\n  <!-- a comment -->\n" +
			part("10000", "ccc", ""))))
	if err != nil {
		t.Fatal(err)
	}
	want := []objstore.CompletePart{
		{PartNumber: 1, ETag: `"aaa"`},
		{PartNumber: 2, ETag: `"bbb"`, Checksums: map[string]string{"crc32": "AAAAAA=="}},
		{PartNumber: 10000, ETag: "ccc"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("parts = %v, want %v", got, want)
	}
	// Past S3's part numbers: refused before the backend sees it.
	if _, err := decodeCompleteParts(strings.NewReader(doc(part("10001", "e", "")))); err == nil || err.(*APIError).Code != "InvalidArgument" {
		t.Errorf("part 10001: %v, want InvalidArgument", err)
	}
	// No namespace, an unknown element: accepted.
	if _, err := decodeCompleteParts(strings.NewReader(`<CompleteMultipartUpload><X/>` + part("1", "e", "") + `</CompleteMultipartUpload>`)); err != nil {
		t.Errorf("without namespace: %v", err)
	}

	var many strings.Builder
	for i := range objstore.MaxParts + 1 {
		many.WriteString(part(strconv.Itoa(i+1), "e", ""))
	}
	refused := []struct {
		name, body string
		want       *APIError
	}{
		{"empty body", "", ErrMalformedXML},
		{"not XML", "PartNumber=1", ErrMalformedXML},
		{"other root", "<Parts>" + part("1", "e", "") + "</Parts>", ErrMalformedXML},
		{"no parts", doc(""), ErrMalformedXML},
		{"no PartNumber", doc("<Part><ETag>e</ETag></Part>"), ErrMalformedXML},
		{"no ETag", doc("<Part><PartNumber>1</PartNumber></Part>"), ErrMalformedXML},
		{"PartNumber not a number", doc(part("one", "e", "")), ErrMalformedXML},
		{"PartNumber 0", doc(part("0", "e", "")), ErrCompletePartNumber},
		{"two checksums", doc(part("1", "e", "<ChecksumCRC32>AAAAAA==</ChecksumCRC32><ChecksumSHA1>x</ChecksumSHA1>")), ErrMultiplePartChecksums},
		{"unclosed", `<CompleteMultipartUpload>` + part("1", "e", ""), ErrMalformedXML},
		{"text after the root", doc(part("1", "e", "")) + "trailing", ErrMalformedXML},
		{"second root", doc(part("1", "e", "")) + "<Again/>", ErrMalformedXML},
		{"10001 parts", doc(many.String()), ErrMalformedXML},
	}
	for _, tt := range refused {
		if _, err := decodeCompleteParts(strings.NewReader(tt.body)); err != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestPartNumberParam(t *testing.T) {
	for _, tt := range []struct {
		query, rng string
		want       int
		err        *APIError
	}{
		{"", "", 0, nil},
		{"partNumber=1", "", 1, nil},
		{"partNumber=10000", "", 10000, nil},
		{"partNumber=0", "", 0, ErrInvalidPartNumberArg},
		{"partNumber=10001", "", 0, ErrInvalidPartNumberArg},
		{"partNumber=-1", "", 0, ErrInvalidPartNumberArg},
		{"partNumber=1.5", "", 0, ErrInvalidPartNumberArg},
		{"partNumber=", "", 0, ErrInvalidPartNumberArg},
		{"partNumber=2", "bytes=0-1", 0, ErrPartNumberWithRange},
	} {
		r := httptest.NewRequest(http.MethodGet, "/b/k?"+tt.query, nil)
		if tt.rng != "" {
			r.Header.Set("Range", tt.rng)
		}
		n, err := partNumberParam(r)
		if n != tt.want || !isErr(err, tt.err) {
			t.Errorf("%q range %q: %d, %v; want %d, %v", tt.query, tt.rng, n, err, tt.want, tt.err)
		}
	}
}

func TestSelectView(t *testing.T) {
	const mib = 1 << 20
	multipart := objstore.ObjectInfo{
		Key: "k", Size: 10*mib + 4, PartsCount: 3, ChecksumType: objstore.ChecksumComposite,
		Checksums: map[string]string{"crc32": "whole==-3"},
		Blobs: []objstore.BlobRef{
			{Size: 5 * mib, Checksums: map[string]string{"crc32": "p1", "sha1": "extra"}},
			{Size: 5 * mib, Checksums: map[string]string{"crc32": "p2"}},
			{Size: 4, Checksums: map[string]string{"crc32": "p3"}},
		},
	}
	single := objstore.ObjectInfo{Key: "k", Size: 10, Checksums: map[string]string{"crc32": "s"}}
	get := func(rng string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/b/k", nil)
		if rng != "" {
			r.Header.Set("Range", rng)
		}
		return r
	}
	tests := []struct {
		name       string
		info       objstore.ObjectInfo
		part       int
		rng        string
		start, end int64
		partial    bool
		count      int
		sums       string
		err        *APIError
	}{
		{"whole multipart", multipart, 0, "", 0, 10*mib + 4, false, 0, "map[crc32:whole==-3]", nil},
		{"part 2", multipart, 2, "", 5 * mib, 10 * mib, true, 3, "map[crc32:p2]", nil},
		{"part 1 keeps the object's algorithms only", multipart, 1, "", 0, 5 * mib, true, 3, "map[crc32:p1]", nil},
		{"last part", multipart, 3, "", 10 * mib, 10*mib + 4, true, 3, "map[crc32:p3]", nil},
		{"part 4 of 3", multipart, 4, "", 0, 0, false, 0, "", ErrInvalidPartNumber},
		{"range of a multipart object", multipart, 0, "bytes=0-9", 0, 10, true, 0, "map[]", nil},
		{"part 1 of a single-part object", single, 1, "", 0, 10, true, 0, "map[crc32:s]", nil},
		{"part 2 of a single-part object", single, 2, "", 0, 0, false, 0, "", ErrInvalidPartNumber},
		{"unsatisfiable range", single, 0, "bytes=10-", 0, 0, false, 0, "", ErrInvalidRange},
	}
	for _, tt := range tests {
		v, err := selectView(get(tt.rng), tt.info, tt.part)
		if tt.err != nil {
			if err != tt.err {
				t.Errorf("%s: %v, want %v", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil || v.start != tt.start || v.end != tt.end || v.partial != tt.partial || v.partsCount != tt.count || fmt.Sprint(v.checksums) != tt.sums {
			t.Errorf("%s: %+v, %v", tt.name, v, err)
		}
	}
	broken := multipart
	broken.Blobs = broken.Blobs[:2]
	if _, err := selectView(get(""), broken, 1); err == nil || toAPIError(err) != ErrInternal {
		t.Errorf("parts without blobs: %v, want an internal error", err)
	}
}

func TestParseUploadChecksum(t *testing.T) {
	tests := []struct {
		alg, typ         string
		wantAlg, wantTyp string
		msg              string // error message, "" for success
	}{
		{"", "", "", "", ""},
		{"CRC32", "", "crc32", "COMPOSITE", ""},
		{"crc32c", "FULL_OBJECT", "crc32c", "FULL_OBJECT", ""},
		{"CRC64NVME", "", "crc64nvme", "FULL_OBJECT", ""},
		{"SHA256", "COMPOSITE", "sha256", "COMPOSITE", ""},
		{"SHA1", "FULL_OBJECT", "", "", "The FULL_OBJECT checksum type cannot be used with the sha1 checksum algorithm."},
		{"CRC64NVME", "COMPOSITE", "", "", "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm."},
		{"", "COMPOSITE", "", "", ErrChecksumTypeAlone.Message},
		{"CRC32", "PARTS", "", "", ErrInvalidChecksumType.Message},
		{"MD4", "", "", "", ErrUnsupportedChecksum.Message},
		{"SHA384", "", "", "", ErrUnsupportedChecksum.Message},
		// The algorithms of April 2026 are COMPOSITE only, and by default.
		{"MD5", "", "md5", "COMPOSITE", ""},
		{"sha512", "COMPOSITE", "sha512", "COMPOSITE", ""},
		{"XXHASH64", "", "xxhash64", "COMPOSITE", ""},
		{"XXHASH3", "", "xxhash3", "COMPOSITE", ""},
		{"XXHASH128", "COMPOSITE", "xxhash128", "COMPOSITE", ""},
		{"MD5", "FULL_OBJECT", "", "", "The FULL_OBJECT checksum type cannot be used with the md5 checksum algorithm."},
		{"SHA512", "FULL_OBJECT", "", "", "The FULL_OBJECT checksum type cannot be used with the sha512 checksum algorithm."},
		{"XXHASH64", "FULL_OBJECT", "", "", "The FULL_OBJECT checksum type cannot be used with the xxhash64 checksum algorithm."},
		{"XXHASH3", "FULL_OBJECT", "", "", "The FULL_OBJECT checksum type cannot be used with the xxhash3 checksum algorithm."},
		{"XXHASH128", "FULL_OBJECT", "", "", "The FULL_OBJECT checksum type cannot be used with the xxhash128 checksum algorithm."},
	}
	for _, tt := range tests {
		alg, typ, err := parseUploadChecksum(tt.alg, tt.typ)
		if tt.msg != "" {
			if e := toAPIError(err); e.Code != "InvalidRequest" || e.Message != tt.msg {
				t.Errorf("%q/%q: %v, want %q", tt.alg, tt.typ, err, tt.msg)
			}
			continue
		}
		if err != nil || alg != tt.wantAlg || typ != tt.wantTyp {
			t.Errorf("%q/%q = %q, %q, %v", tt.alg, tt.typ, alg, typ, err)
		}
	}
}

func TestPartChecksums(t *testing.T) {
	none := objstore.Upload{}
	composite := objstore.Upload{ChecksumAlgorithm: "sha256", ChecksumType: objstore.ChecksumComposite}
	full := objstore.Upload{ChecksumAlgorithm: "crc32", ChecksumType: objstore.ChecksumFullObject}
	tests := []struct {
		u      objstore.Upload
		client checksum.Algorithm
		want   string
		msg    string
	}{
		// Without an algorithm, S3's default as well.
		{none, 0, "[crc64nvme]", ""},
		{none, checksum.CRC32C, "[crc32c crc64nvme]", ""},
		{none, checksum.CRC64NVME, "[crc64nvme]", ""},
		{composite, checksum.SHA256, "[sha256]", ""},
		{composite, 0, "", "Checksum Type mismatch occurred, expected checksum Type: sha256, actual checksum Type: null"},
		{composite, checksum.CRC32, "", "Checksum Type mismatch occurred, expected checksum Type: sha256, actual checksum Type: crc32"},
		{full, 0, "[crc32]", ""}, // the server computes it
		{full, checksum.CRC32C, "", "Checksum Type mismatch occurred, expected checksum Type: crc32, actual checksum Type: crc32c"},
	}
	for _, tt := range tests {
		algs, err := partChecksums(tt.u, tt.client)
		if tt.msg != "" {
			if e := toAPIError(err); e.Code != "InvalidRequest" || e.Message != tt.msg {
				t.Errorf("%+v %v: %v, want %q", tt.u, tt.client, err, tt.msg)
			}
			continue
		}
		if err != nil || fmt.Sprint(algs) != tt.want {
			t.Errorf("%+v %v = %v, %v; want %s", tt.u, tt.client, algs, err, tt.want)
		}
	}
}

func TestParseCopySourceRange(t *testing.T) {
	sizeMsg := "Range specified is not valid for source object of size: 10"
	for _, tt := range []struct {
		v          string
		start, end int64
		msg        string
	}{
		{"bytes=0-9", 0, 10, ""},
		{"bytes=3-3", 3, 4, ""},
		{"bytes=0-10", 0, 0, sizeMsg},
		{"bytes=10-12", 0, 0, sizeMsg},
		{"bytes=5-2", 0, 0, sizeMsg},
		{"0-2", 0, 0, ErrCopySourceRange.Message},
		{"bytes=0", 0, 0, ErrCopySourceRange.Message},
		{"bytes=-2", 0, 0, ErrCopySourceRange.Message},
		{"bytes=2-", 0, 0, ErrCopySourceRange.Message},
		{"bytes=a-z", 0, 0, ErrCopySourceRange.Message},
		{"bytes=0-2,3-5", 0, 0, ErrCopySourceRange.Message},
		{"bytes=+1-2", 0, 0, ErrCopySourceRange.Message},
	} {
		start, end, err := parseCopySourceRange(tt.v, 10)
		if tt.msg != "" {
			if e := toAPIError(err); e.Code != "InvalidArgument" || e.Message != tt.msg {
				t.Errorf("%q: %v, want %q", tt.v, err, tt.msg)
			}
			continue
		}
		if err != nil || start != tt.start || end != tt.end {
			t.Errorf("%q = %d, %d, %v", tt.v, start, end, err)
		}
	}
}

func TestParseListParams(t *testing.T) {
	q := func(s string) url.Values { v, _ := url.ParseQuery(s); return v }
	for _, tt := range []struct {
		query          string
		marker, max    int
		err            *APIError
		uploadsMax     int
		uploadsErr     *APIError
		uploadIDMarker string
	}{
		{"", 0, 1000, nil, 1000, nil, ""},
		{"max-parts=5000&max-uploads=5000", 0, 1000, nil, 1000, nil, ""},
		{"max-parts=0&max-uploads=0&part-number-marker=3", 3, 0, nil, 0, nil, ""},
		{"max-parts=-1", 0, 0, ErrInvalidMaxParts, 1000, nil, ""},
		{"max-parts=two", 0, 0, ErrInvalidMaxParts, 1000, nil, ""},
		{"max-parts=99999999999", 0, 0, ErrInvalidMaxParts, 1000, nil, ""},
		{"part-number-marker=x", 0, 0, ErrInvalidPartMarker, 1000, nil, ""},
		{"max-uploads=-1", 0, 1000, nil, 0, ErrInvalidMaxUploads, ""},
		{"encoding-type=base64", 0, 1000, nil, 0, ErrInvalidEncodingType, ""},
		// S3 ignores an upload ID marker without a key marker.
		{"upload-id-marker=u1", 0, 1000, nil, 1000, nil, ""},
		{"upload-id-marker=u1&key-marker=k", 0, 1000, nil, 1000, nil, "u1"},
	} {
		p, err := parseListPartsParams(q(tt.query))
		if !isErr(err, tt.err) || (err == nil && (p.marker != tt.marker || p.maxParts != tt.max)) {
			t.Errorf("ListParts %q = %+v, %v", tt.query, p, err)
		}
		u, err := parseListUploadsParams(q(tt.query))
		if !isErr(err, tt.uploadsErr) || (err == nil && (u.opts.MaxUploads != tt.uploadsMax || u.opts.UploadIDMarker != tt.uploadIDMarker)) {
			t.Errorf("ListMultipartUploads %q = %+v, %v", tt.query, u, err)
		}
	}
}

func TestListPartsXML(t *testing.T) {
	lm := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	res := objstore.ListPartsResult{
		Upload: objstore.Upload{ChecksumAlgorithm: "crc32", ChecksumType: objstore.ChecksumComposite},
		Parts: []objstore.PartInfo{
			{PartNumber: 2, LastModified: lm, Blob: objstore.BlobRef{MD5: "abc", Size: 7, Checksums: map[string]string{"crc32": "AAAAAA=="}}},
			{PartNumber: 5, LastModified: lm, Blob: objstore.BlobRef{MD5: "def", Size: 8}},
		},
		IsTruncated: true,
	}
	out, _ := xml.Marshal(listPartsXML("b", "k", "u", listPartsParams{marker: 1, maxParts: 2}, res))
	want := `<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>b</Bucket><Key>k</Key><UploadId>u</UploadId>` +
		`<Initiator><ID>strongbox</ID><DisplayName>strongbox</DisplayName></Initiator><Owner><ID>strongbox</ID><DisplayName>strongbox</DisplayName></Owner>` +
		`<StorageClass>STANDARD</StorageClass><PartNumberMarker>1</PartNumberMarker><NextPartNumberMarker>5</NextPartNumberMarker>` +
		`<MaxParts>2</MaxParts><IsTruncated>true</IsTruncated>` +
		`<Part><PartNumber>2</PartNumber><LastModified>2026-01-02T03:04:05.000Z</LastModified><ETag>&#34;abc&#34;</ETag><Size>7</Size><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>` +
		`<Part><PartNumber>5</PartNumber><LastModified>2026-01-02T03:04:05.000Z</LastModified><ETag>&#34;def&#34;</ETag><Size>8</Size></Part>` +
		`<ChecksumAlgorithm>CRC32</ChecksumAlgorithm><ChecksumType>COMPOSITE</ChecksumType></ListPartsResult>`
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	// An empty page: the marker is the next marker, max-parts 0 is never
	// truncated.
	empty := listPartsXML("b", "k", "u", listPartsParams{marker: 3, maxParts: 0}, objstore.ListPartsResult{IsTruncated: true})
	if empty.NextPartNumberMarker != 3 || empty.IsTruncated || empty.ChecksumAlgorithm != "" || empty.ChecksumType != "" {
		t.Errorf("empty page: %+v", empty)
	}
}

func TestListUploadsXML(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	res := objstore.ListUploadsResult{
		Uploads: []objstore.Upload{
			{Key: "b", UploadID: "u1", Initiated: at},
			{Key: "c d", UploadID: "u2", Initiated: at, ChecksumAlgorithm: "sha256", ChecksumType: objstore.ChecksumComposite},
		},
		CommonPrefixes: []string{"a/"},
	}
	p, _ := parseListUploadsParams(url.Values{"encoding-type": {"url"}, "delimiter": {"/"}})
	out := listUploadsXML("bkt", p, res)
	if out.NextKeyMarker != "c+d" || out.NextUploadIDMarker != "u2" || out.IsTruncated || out.EncodingType != "url" {
		t.Errorf("markers: %+v", out)
	}
	if out.Uploads[1].Key != "c+d" || out.Uploads[1].ChecksumAlgorithm != "SHA256" || out.Uploads[1].ChecksumType != "COMPOSITE" || out.Uploads[0].ChecksumType != "" {
		t.Errorf("uploads: %+v", out.Uploads)
	}
	// A common prefix last: its name, with no upload ID.
	res.CommonPrefixes = []string{"z/"}
	if out := listUploadsXML("bkt", p, res); out.NextKeyMarker != "z/" || out.NextUploadIDMarker != "" {
		t.Errorf("prefix last: %q %q", out.NextKeyMarker, out.NextUploadIDMarker)
	}
	b, _ := xml.Marshal(listUploadsXML("bkt", listUploadsParams{opts: objstore.ListUploadsOptions{MaxUploads: 1000}}, objstore.ListUploadsResult{}))
	want := `<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>bkt</Bucket><KeyMarker></KeyMarker>` +
		`<UploadIdMarker></UploadIdMarker><NextKeyMarker></NextKeyMarker><NextUploadIdMarker></NextUploadIdMarker><Prefix></Prefix>` +
		`<MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>`
	if string(b) != want {
		t.Errorf("empty listing:\n%s\nwant\n%s", b, want)
	}
}

// Requests carrying multipart query flags never reach the plain operation
// on the same path.
func TestMultipartRoutingNeverFallsThrough(t *testing.T) {
	s := New(untouchable{t}, Options{Credentials: func(ak string) (string, Rights, bool) { return "sk", RightsAll, ak == "ak" }})
	for _, c := range []struct {
		method, target string
		status         int
		code           string
	}{
		{http.MethodPut, "/bucket?uploads", http.StatusNotImplemented, "NotImplemented"}, // not CreateBucket
		{http.MethodDelete, "/bucket?uploadId=u", http.StatusNotImplemented, "NotImplemented"},
		{http.MethodDelete, "/bucket/key?partNumber=1", http.StatusMethodNotAllowed, "MethodNotAllowed"}, // not DeleteObject
		{http.MethodHead, "/bucket/key?uploadId=u", http.StatusMethodNotAllowed, ""},
		{http.MethodPut, "/bucket/key?uploads", http.StatusMethodNotAllowed, "MethodNotAllowed"}, // not PutObject
		{http.MethodPut, "/bucket/key?partNumber=1", http.StatusBadRequest, "InvalidArgument"},
		{http.MethodGet, "/bucket/key?uploads", http.StatusBadRequest, "InvalidRequest"},
		{http.MethodPut, "/bucket/key?partNumber=0&uploadId=u", http.StatusBadRequest, "InvalidArgument"},
		{http.MethodPut, "/bucket/key?uploadId=u", http.StatusBadRequest, "InvalidArgument"},
		{http.MethodGet, "/bucket/key?partNumber=x", http.StatusBadRequest, "InvalidArgument"},
		{http.MethodGet, "/bucket/key?uploadId=u&max-parts=-1", http.StatusBadRequest, "InvalidArgument"},
		{http.MethodGet, "/bucket?uploads&max-uploads=x", http.StatusBadRequest, "InvalidArgument"},
		{http.MethodPost, "/bucket/key?uploads", http.StatusBadRequest, "InvalidRequest"}, // bad checksum type below
	} {
		var hdr []string
		if c.method == http.MethodPost {
			hdr = []string{"X-Amz-Checksum-Type", "COMPOSITE"}
		}
		w := do(s, c.method, c.target, "", hdr...)
		if w.Code != c.status || (c.code != "" && !strings.Contains(w.Body.String(), "<Code>"+c.code+"</Code>")) {
			t.Errorf("%s %s: %d %s", c.method, c.target, w.Code, w.Body)
		}
	}
}

// isErr reports whether err is want, a nil want meaning no error.
func isErr(err error, want *APIError) bool {
	if want == nil {
		return err == nil
	}
	return err == want
}

func md5hex(b []byte) string { s := md5.Sum(b); return fmt.Sprintf("%x", s) }

// createUpload starts an upload of path (/bucket/key) with the header
// pairs given and returns its ID.
func createUpload(t *testing.T, s *Server, path string, headers ...string) string {
	t.Helper()
	w := do(s, http.MethodPost, path+"?uploads", "", headers...)
	var created initiateMultipartUploadResult
	if err := xml.Unmarshal(w.Body.Bytes(), &created); w.Code != http.StatusOK || err != nil || created.UploadID == "" {
		t.Fatalf("CreateMultipartUpload %s: %d %s %v", path, w.Code, w.Body, err)
	}
	return created.UploadID
}

func TestMultipartUploadEndToEnd(t *testing.T) {
	m := newMemBackend(t, "bkt")
	s := testServer(m, Options{})
	part1 := bytes.Repeat([]byte("a"), objstore.MinPartSize)
	part2 := []byte("tail")
	crc := func(b []byte) string { return checksum.CRC32.Of(b) }

	w := do(s, http.MethodPost, "/bkt/dir/my%20key?uploads", "", "Content-Type", "text/plain", "X-Amz-Meta-Color", "blue",
		"X-Amz-Checksum-Algorithm", "crc32", "X-Amz-Tagging", "a=1")
	wantCode(t, w, http.StatusOK, "")
	if w.Header().Get("x-amz-checksum-algorithm") != "CRC32" || w.Header().Get("x-amz-checksum-type") != "COMPOSITE" {
		t.Fatalf("create headers: %v", w.Header())
	}
	var created initiateMultipartUploadResult
	if err := xml.Unmarshal(w.Body.Bytes(), &created); err != nil || created.Key != "dir/my key" || created.Bucket != "bkt" || created.UploadID == "" {
		t.Fatalf("create: %s %v", w.Body, err)
	}
	id := created.UploadID
	path := "/bkt/dir/my%20key"
	partURL := func(n int) string { return fmt.Sprintf("%s?partNumber=%d&uploadId=%s", path, n, id) }

	// A COMPOSITE upload wants each part's checksum, of its algorithm.
	wantCode(t, do(s, http.MethodPut, partURL(1), string(part1)), http.StatusBadRequest, "InvalidRequest")
	wantCode(t, do(s, http.MethodPut, partURL(1), string(part1), "X-Amz-Checksum-Crc32c", checksum.CRC32C.Of(part1)), http.StatusBadRequest, "InvalidRequest")
	// A wrong value is BadDigest, and its blob is discarded.
	wantCode(t, do(s, http.MethodPut, partURL(1), string(part1), "X-Amz-Checksum-Crc32", crc(part2)), http.StatusBadRequest, "BadDigest")
	if len(m.discarded) != 1 {
		t.Fatalf("discarded %v", m.discarded)
	}
	w = do(s, http.MethodPut, partURL(1), string(part1), "X-Amz-Checksum-Crc32", crc(part1))
	wantCode(t, w, http.StatusOK, "")
	if w.Header().Get("ETag") != `"`+md5hex(part1)+`"` || w.Header().Get("x-amz-checksum-crc32") != crc(part1) {
		t.Fatalf("part 1 headers: %v", w.Header())
	}
	// The checksum can be a trailer.
	wantCode(t, doTrailer(s, http.MethodPut, partURL(2), part2, "x-amz-checksum-crc32", crc(part2)), http.StatusOK, "")
	// A trailer that does not match fails the part.
	wantCode(t, doTrailer(s, http.MethodPut, partURL(3), part2, "x-amz-checksum-crc32", crc(part1)), http.StatusBadRequest, "BadDigest")
	// Another key, another upload ID: NoSuchUpload, before the body.
	wantCode(t, do(s, http.MethodPut, "/bkt/other?partNumber=1&uploadId="+id, "x", "X-Amz-Checksum-Crc32", crc([]byte("x"))), http.StatusNotFound, "NoSuchUpload")

	w = do(s, http.MethodGet, path+"?uploadId="+id+"&max-parts=1", "")
	wantCode(t, w, http.StatusOK, "")
	var lp listPartsResult
	if err := xml.Unmarshal(w.Body.Bytes(), &lp); err != nil || len(lp.Parts) != 1 || !lp.IsTruncated || lp.NextPartNumberMarker != 1 ||
		lp.ChecksumAlgorithm != "CRC32" || lp.Parts[0].ChecksumCRC32 != crc(part1) {
		t.Fatalf("ListParts: %s", w.Body)
	}
	w = do(s, http.MethodGet, "/bkt?uploads", "")
	if !strings.Contains(w.Body.String(), "<Key>dir/my key</Key><UploadId>"+id+"</UploadId>") {
		t.Fatalf("ListMultipartUploads: %s", w.Body)
	}

	complete := func(parts string, headers ...string) *httptest.ResponseRecorder {
		return do(s, http.MethodPost, path+"?uploadId="+id, "<CompleteMultipartUpload>"+parts+"</CompleteMultipartUpload>", headers...)
	}
	p1 := fmt.Sprintf(`<Part><PartNumber>1</PartNumber><ETag>"%s"</ETag><ChecksumCRC32>%s</ChecksumCRC32></Part>`, md5hex(part1), crc(part1))
	p2 := fmt.Sprintf(`<Part><PartNumber>2</PartNumber><ETag>%s</ETag><ChecksumCRC32>%s</ChecksumCRC32></Part>`, md5hex(part2), crc(part2))
	p2bare := fmt.Sprintf(`<Part><PartNumber>2</PartNumber><ETag>%s</ETag></Part>`, md5hex(part2))
	w = complete(p1 + p2bare)
	wantCode(t, w, http.StatusBadRequest, "InvalidRequest")
	if !strings.Contains(w.Body.String(), "It was missing for part 2 in the request.") {
		t.Errorf("missing part checksum: %s", w.Body)
	}
	wantCode(t, complete(p2+p1), http.StatusBadRequest, "InvalidPartOrder")
	wantCode(t, complete(p1+p2, "X-Amz-Checksum-Sha256", "x"), http.StatusBadRequest, "InvalidRequest")
	wantCode(t, complete(p1+p2, "X-Amz-Checksum-Type", "FULL_OBJECT"), http.StatusBadRequest, "BadDigest")
	w = complete(p1+p2, "X-Amz-Checksum-Crc32", "AAAAAA==-2")
	wantCode(t, w, http.StatusBadRequest, "BadDigest")
	if !strings.Contains(w.Body.String(), "The CRC32 you specified did not match the calculated checksum.") {
		t.Errorf("BadDigest message: %s", w.Body)
	}
	wantCode(t, complete(""), http.StatusBadRequest, "MalformedXML")

	w = complete(p1 + p2)
	wantCode(t, w, http.StatusOK, "")
	var done completeMultipartUploadResult
	if err := xml.Unmarshal(w.Body.Bytes(), &done); err != nil {
		t.Fatal(err)
	}
	whole := m.objects["bkt/dir/my key"].info
	if done.Location != "http://example.com/bkt/dir%2Fmy%20key" || done.Key != "dir/my key" || done.ETag != `"`+whole.ETag+`"` ||
		!strings.HasSuffix(whole.ETag, "-2") || done.ChecksumCRC32 == "" || done.ChecksumType != "COMPOSITE" {
		t.Fatalf("complete: %s", w.Body)
	}
	wantCode(t, complete(p1+p2), http.StatusNotFound, "NoSuchUpload")

	// GET and HEAD of one part, with the part's checksum.
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		w = do(s, method, path+"?partNumber=2", "", "X-Amz-Checksum-Mode", "ENABLED")
		wantCode(t, w, http.StatusPartialContent, "")
		h := w.Header()
		if h.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", len(part1), len(part1)+3, len(part1)+4) || h.Get("Content-Length") != "4" ||
			h.Get("x-amz-mp-parts-count") != "2" || h.Get("ETag") != `"`+whole.ETag+`"` || h.Get("x-amz-checksum-crc32") != crc(part2) ||
			h.Get("x-amz-checksum-type") != "COMPOSITE" {
			t.Errorf("%s part 2: %v", method, h)
		}
		if method == http.MethodGet && w.Body.String() != "tail" {
			t.Errorf("part 2 body %q", w.Body)
		}
		wantCode(t, do(s, method, path+"?partNumber=3", ""), http.StatusRequestedRangeNotSatisfiable, map[string]string{http.MethodGet: "InvalidPartNumber"}[method])
		wantCode(t, do(s, method, path+"?partNumber=1", "", "Range", "bytes=0-1"), http.StatusBadRequest, map[string]string{http.MethodGet: "InvalidRequest"}[method])
	}
	// The whole object: its composite checksum, no parts count.
	w = do(s, http.MethodGet, path, "", "X-Amz-Checksum-Mode", "ENABLED")
	wantCode(t, w, http.StatusOK, "")
	if w.Body.Len() != len(part1)+4 || !bytes.Equal(w.Body.Bytes()[len(part1):], part2) || w.Header().Get("x-amz-mp-parts-count") != "" ||
		w.Header().Get("x-amz-checksum-crc32") != done.ChecksumCRC32 {
		t.Errorf("whole object: %d bytes, %v", w.Body.Len(), w.Header())
	}
	// A range: no checksum.
	w = do(s, http.MethodGet, path, "", "X-Amz-Checksum-Mode", "ENABLED", "Range", fmt.Sprintf("bytes=%d-", len(part1)-1))
	if w.Code != http.StatusPartialContent || w.Body.String() != "atail" || w.Header().Get("x-amz-checksum-crc32") != "" {
		t.Errorf("range: %d %q %v", w.Code, w.Body, w.Header())
	}

	// GetObjectAttributes lists the parts with their checksums.
	w = do(s, http.MethodGet, path+"?attributes", "", "X-Amz-Object-Attributes", "Checksum,ObjectParts", "X-Amz-Max-Parts", "1")
	wantCode(t, w, http.StatusOK, "")
	for _, want := range []string{
		// Complete's composite value without its -N, as S3 answers.
		"<Checksum><ChecksumCRC32>" + strings.TrimSuffix(done.ChecksumCRC32, "-2") + "</ChecksumCRC32><ChecksumType>COMPOSITE</ChecksumType></Checksum>",
		"<ObjectParts><PartsCount>2</PartsCount><PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>1</NextPartNumberMarker>" +
			"<MaxParts>1</MaxParts><IsTruncated>true</IsTruncated><Part><PartNumber>1</PartNumber><Size>5242880</Size><ChecksumCRC32>" + crc(part1) + "</ChecksumCRC32></Part></ObjectParts>",
	} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("attributes lack %s:\n%s", want, w.Body)
		}
	}
}

func TestUploadPartCopy(t *testing.T) {
	m := newMemBackend(t, "bkt")
	s := testServer(m, Options{InlineThreshold: 4})
	src := []byte("0123456789")
	wantCode(t, do(s, http.MethodPut, "/bkt/src", string(src)), http.StatusOK, "")
	target := "/bkt/dst?partNumber=1&uploadId=" + createUpload(t, s, "/bkt/dst", "X-Amz-Checksum-Algorithm", "SHA256")

	w := do(s, http.MethodPut, target, "", "X-Amz-Copy-Source", "/bkt/src", "X-Amz-Copy-Source-Range", "bytes=2-5")
	wantCode(t, w, http.StatusOK, "")
	var res copyPartResult
	if err := xml.Unmarshal(w.Body.Bytes(), &res); err != nil || res.ETag != `"`+md5hex(src[2:6])+`"` ||
		res.ChecksumSHA256 != checksum.SHA256.Of(src[2:6]) || res.LastModified != xmlTime(m.now) {
		t.Fatalf("copy: %s %v", w.Body, err)
	}
	for _, c := range []struct {
		headers []string
		status  int
		code    string
	}{
		{[]string{"X-Amz-Copy-Source", "bkt/src", "X-Amz-Copy-Source-Range", "bytes=0-10"}, 400, "InvalidArgument"},
		{[]string{"X-Amz-Copy-Source", "bkt/src", "X-Amz-Copy-Source-Range", "0-1"}, 400, "InvalidArgument"},
		{[]string{"X-Amz-Copy-Source", "bkt/missing"}, 404, "NoSuchKey"},
		{[]string{"X-Amz-Copy-Source", "nobkt/src"}, 404, "NoSuchBucket"},
		{[]string{"X-Amz-Copy-Source", "bkt/src", "X-Amz-Copy-Source-If-Match", `"nope"`}, 412, "PreconditionFailed"},
		{[]string{"X-Amz-Copy-Source", "bkt/src", "X-Amz-Copy-Source-If-None-Match", `"` + md5hex(src) + `"`}, 412, "PreconditionFailed"},
		{[]string{"X-Amz-Copy-Source", "bkt"}, 400, "InvalidArgument"},
	} {
		wantCode(t, do(s, http.MethodPut, target, "", c.headers...), c.status, c.code)
	}
	wantCode(t, do(s, http.MethodPut, "/bkt/dst?partNumber=1&uploadId=nope", "", "X-Amz-Copy-Source", "bkt/src"), 404, "NoSuchUpload")
}

func TestPutObjectInlineOrBlob(t *testing.T) {
	m := newMemBackend(t, "bkt")
	s := testServer(m, Options{InlineThreshold: 8})
	small, large := []byte("12345678"), []byte("123456789")

	wantCode(t, do(s, http.MethodPut, "/bkt/small", string(small)), http.StatusOK, "")
	if o := m.objects["bkt/small"]; o.info.Blobs != nil || !bytes.Equal(o.inline, small) {
		t.Errorf("small object: %+v", o)
	}
	sum := md5.Sum(large)
	w := do(s, http.MethodPut, "/bkt/large", string(large), "Content-MD5", base64.StdEncoding.EncodeToString(sum[:]),
		"X-Amz-Checksum-Crc32c", checksum.CRC32C.Of(large))
	wantCode(t, w, http.StatusOK, "")
	o := m.objects["bkt/large"]
	if len(o.info.Blobs) != 1 || o.inline != nil || o.info.ETag != md5hex(large) || o.info.Size != 9 ||
		fmt.Sprint(o.info.Checksums) != "map[crc32c:"+checksum.CRC32C.Of(large)+"]" || w.Header().Get("ETag") != `"`+md5hex(large)+`"` {
		t.Errorf("large object: %+v", o.info)
	}

	// A mismatch is refused after the blob was written: it is discarded.
	w = do(s, http.MethodPut, "/bkt/bad", string(large), "Content-MD5", base64.StdEncoding.EncodeToString(make([]byte, 16)))
	wantCode(t, w, http.StatusBadRequest, "BadDigest")
	w = do(s, http.MethodPut, "/bkt/bad", string(large), "X-Amz-Checksum-Sha1", checksum.SHA1.Of(small))
	wantCode(t, w, http.StatusBadRequest, "BadDigest")
	if len(m.discarded) != 2 || len(m.blobs) != 1 {
		t.Errorf("discarded %v, %d blobs left", m.discarded, len(m.blobs))
	}
	// Two checksum algorithms at once are refused before the body.
	wantCode(t, do(s, http.MethodPut, "/bkt/two", string(large), "X-Amz-Checksum-Sha1", checksum.SHA1.Of(large),
		"X-Amz-Checksum-Crc32", checksum.CRC32.Of(large)), http.StatusBadRequest, "InvalidRequest")
	// A missing bucket is refused before the body is stored.
	wantCode(t, do(s, http.MethodPut, "/nobkt/large", string(large)), http.StatusNotFound, "NoSuchBucket")

	// aws-chunked without a decoded length: inline if it ends within the
	// threshold, a blob otherwise; the trailer is verified and kept.
	for _, data := range [][]byte{small, large} {
		key := "/bkt/chunked" + strconv.Itoa(len(data))
		wantCode(t, doTrailer(s, http.MethodPut, key, data, "x-amz-checksum-crc32", checksum.CRC32.Of(data)), http.StatusOK, "")
		o := m.objects["bkt"+key[4:]]
		if (o.info.Blobs != nil) != (len(data) > 8) || o.info.Checksums["crc32"] != checksum.CRC32.Of(data) || o.info.Size != int64(len(data)) {
			t.Errorf("%d chunked bytes: %+v", len(data), o.info)
		}
		// A trailer that does not match: BadDigest, nothing written.
		w := doTrailer(s, http.MethodPut, "/bkt/badtrailer", data, "x-amz-checksum-crc32", checksum.CRC32.Of(nil))
		wantCode(t, w, http.StatusBadRequest, "BadDigest")
		if _, ok := m.objects["bkt/badtrailer"]; ok {
			t.Errorf("%d bytes: object written despite a bad trailer", len(data))
		}
	}

	// Over the limit: EntityTooLarge, from the declared size or the store.
	s = testServer(m, Options{InlineThreshold: 4, MaxObjectSize: 8})
	wantCode(t, do(s, http.MethodPut, "/bkt/huge", string(large)), http.StatusBadRequest, "EntityTooLarge")
	wantCode(t, doTrailer(s, http.MethodPut, "/bkt/huge", large, "x-amz-checksum-crc32", checksum.CRC32.Of(large)), http.StatusBadRequest, "EntityTooLarge")
}

// A GET whose body cannot be read before anything was sent is an error
// response; once the headers are out, the connection is cut: the client
// must never take a short body for the object.
func TestGetObjectReadFailure(t *testing.T) {
	m := newMemBackend(t, "bkt")
	s := testServer(m, Options{InlineThreshold: 1})
	data := bytes.Repeat([]byte("x"), 600<<10)
	wantCode(t, do(s, http.MethodPut, "/bkt/k", string(data)), http.StatusOK, "")

	m.failRead = 0
	wantCode(t, do(s, http.MethodGet, "/bkt/k", ""), http.StatusServiceUnavailable, "ServiceUnavailable")

	m.failRead = 300 << 10
	ts := httptest.NewServer(s)
	defer ts.Close()
	r, _ := http.NewRequest(http.MethodGet, ts.URL+"/bkt/k", nil)
	sigv4.Sign(r, "ak", "sk", "us-east-1", sigv4.UnsignedPayload, time.Now())
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || err == nil || !errors.Is(err, io.ErrUnexpectedEOF) || len(got) >= len(data) {
		t.Fatalf("status %d, read %d bytes, err %v: want a broken transfer", resp.StatusCode, len(got), err)
	}
}

func TestAbortAndListUploadsErrors(t *testing.T) {
	m := newMemBackend(t, "bkt")
	s := testServer(m, Options{})
	w := do(s, http.MethodPost, "/bkt/k?uploads", "")
	var created initiateMultipartUploadResult
	_ = xml.Unmarshal(w.Body.Bytes(), &created)
	if w.Header().Get("x-amz-checksum-algorithm") != "" {
		t.Errorf("no algorithm, yet %v", w.Header())
	}
	wantCode(t, do(s, http.MethodDelete, "/bkt/other?uploadId="+created.UploadID, ""), http.StatusNotFound, "NoSuchUpload")
	w = do(s, http.MethodDelete, "/bkt/k?uploadId="+created.UploadID, "")
	if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
		t.Fatalf("abort: %d %s", w.Code, w.Body)
	}
	wantCode(t, do(s, http.MethodGet, "/bkt/k?uploadId="+created.UploadID, ""), http.StatusNotFound, "NoSuchUpload")
	// An empty upload ID is still an upload ID: never the plain operation.
	wantCode(t, do(s, http.MethodDelete, "/bkt/k?uploadId=", ""), http.StatusNotFound, "NoSuchUpload")
	wantCode(t, do(s, http.MethodDelete, "/bkt/k?uploadId", ""), http.StatusNotFound, "NoSuchUpload")
	// IDs the backend could never have issued do not reach it (its state
	// machine would refuse them as malformed commands, a 500).
	for _, bad := range []string{"bad%2Fid", "bad.id+x", strings.Repeat("a", 129)} {
		for _, req := range [][2]string{{http.MethodDelete, ""}, {http.MethodGet, ""}, {http.MethodPost, "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>"}, {http.MethodPut, "x"}} {
			path := "/bkt/k?uploadId=" + bad
			if req[0] == http.MethodPut {
				path += "&partNumber=1"
			}
			wantCode(t, do(s, req[0], path, req[1]), http.StatusNotFound, "NoSuchUpload")
		}
	}
	wantCode(t, do(s, http.MethodGet, "/nobkt?uploads", ""), http.StatusNotFound, "NoSuchBucket")
	wantCode(t, do(s, http.MethodPost, "/nobkt/k?uploads", ""), http.StatusNotFound, "NoSuchBucket")
	wantCode(t, do(s, http.MethodPost, "/bkt/"+strings.Repeat("k", 1025)+"?uploads", ""), http.StatusBadRequest, "KeyTooLongError")

	// Without an upload algorithm a part's checksum is verified and
	// returned. This fake backend computes no default checksum and ignores
	// a whole-object one, so the Complete answer carries none: the handler
	// relays only what the backend returns (the state machine's rules are
	// raftfsm's tests).
	id := createUpload(t, s, "/bkt/k")
	w = do(s, http.MethodPut, "/bkt/k?partNumber=1&uploadId="+id, "x", "X-Amz-Checksum-Crc32c", checksum.CRC32C.Of([]byte("x")))
	if w.Code != http.StatusOK || w.Header().Get("x-amz-checksum-crc32c") != checksum.CRC32C.Of([]byte("x")) {
		t.Fatalf("part: %d %v", w.Code, w.Header())
	}
	body := "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" + md5hex([]byte("x")) + "</ETag></Part></CompleteMultipartUpload>"
	w = do(s, http.MethodPost, "/bkt/k?uploadId="+id, body, "X-Amz-Checksum-Crc32", "AAAAAA==")
	wantCode(t, w, http.StatusOK, "")
	if strings.Contains(w.Body.String(), "Checksum") {
		t.Errorf("complete without an algorithm: %s", w.Body)
	}
}

// shortReadBackend's StoreBlob stops at limit bytes without waiting for
// the end of the body, as a careless store might: the handler still must
// not accept a body it has not seen end (the signature layer verifies at
// EOF).
type shortReadBackend struct{ *memBackend }

func (b shortReadBackend) StoreBlob(ctx context.Context, r io.Reader, limit int64, algs ...checksum.Algorithm) (objstore.BlobRef, error) {
	return b.memBackend.StoreBlob(ctx, io.LimitReader(r, limit), limit, algs...)
}

func TestStoreBlobMustSeeTheEnd(t *testing.T) {
	m := newMemBackend(t, "bkt")
	s := testServer(shortReadBackend{m}, Options{InlineThreshold: 4, MaxObjectSize: 16})
	data := []byte("0123456789abcdef") // exactly the limit
	// The trailer is wrong: only the end of the body says so.
	w := doTrailer(s, http.MethodPut, "/bkt/k", data, "x-amz-checksum-crc32", checksum.CRC32.Of(nil))
	wantCode(t, w, http.StatusBadRequest, "BadDigest")
	// Longer than the limit, which the store did not notice.
	w = doTrailer(s, http.MethodPut, "/bkt/k", bytes.Repeat(data, 2), "x-amz-checksum-crc32", checksum.CRC32.Of(bytes.Repeat(data, 2)))
	wantCode(t, w, http.StatusBadRequest, "EntityTooLarge")
	if len(m.objects) != 0 || len(m.blobs) != 0 || len(m.discarded) != 2 {
		t.Errorf("objects %v, blobs %d, discarded %v", m.objects, len(m.blobs), m.discarded)
	}
	wantCode(t, doTrailer(s, http.MethodPut, "/bkt/k", data, "x-amz-checksum-crc32", checksum.CRC32.Of(data)), http.StatusOK, "")
}

func TestCompleteBody(t *testing.T) {
	m := newMemBackend(t, "bkt")
	s := testServer(m, Options{})
	id := createUpload(t, s, "/bkt/k")
	target := "/bkt/k?uploadId=" + id
	wantCode(t, do(s, http.MethodPut, "/bkt/k?partNumber=1&uploadId="+id, "x"), http.StatusOK, "")
	doc := "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" + md5hex([]byte("x")) + "</ETag></Part></CompleteMultipartUpload>"

	// Past the size bound: refused, whatever follows.
	huge := doc + strings.Repeat(" ", maxCompleteBody)
	wantCode(t, do(s, http.MethodPost, target, huge), http.StatusBadRequest, "MalformedXML")
	sum := md5.Sum([]byte(doc))
	wantCode(t, do(s, http.MethodPost, target, doc, "Content-MD5", base64.StdEncoding.EncodeToString(make([]byte, 16))), http.StatusBadRequest, "BadDigest")
	wantCode(t, do(s, http.MethodPost, target, doc, "If-None-Match", `"abc"`), http.StatusNotImplemented, "NotImplemented")
	wantCode(t, do(s, http.MethodPost, target, doc, "X-Amz-Checksum-Type", "PARTS"), http.StatusBadRequest, "InvalidRequest")
	wantCode(t, do(s, http.MethodPost, target, doc, "Content-MD5", base64.StdEncoding.EncodeToString(sum[:])), http.StatusOK, "")
}

// HEAD answers a Range as GET does, without the body.
func TestHeadObjectRange(t *testing.T) {
	m := newMemBackend(t, "bkt")
	s := testServer(m, Options{})
	wantCode(t, do(s, http.MethodPut, "/bkt/k", "0123456789"), http.StatusOK, "")
	w := do(s, http.MethodHead, "/bkt/k", "", "Range", "bytes=2-4")
	if w.Code != http.StatusPartialContent || w.Header().Get("Content-Range") != "bytes 2-4/10" || w.Header().Get("Content-Length") != "3" {
		t.Errorf("HEAD with Range: %d %v", w.Code, w.Header())
	}
	// partNumber=1 of a single-part object is the whole object, as a range.
	w = do(s, http.MethodGet, "/bkt/k?partNumber=1", "")
	if w.Code != http.StatusPartialContent || w.Header().Get("Content-Range") != "bytes 0-9/10" || w.Body.String() != "0123456789" ||
		w.Header().Get("x-amz-mp-parts-count") != "" {
		t.Errorf("partNumber=1: %d %v %q", w.Code, w.Header(), w.Body)
	}
	wantCode(t, do(s, http.MethodGet, "/bkt/k?partNumber=2", ""), http.StatusRequestedRangeNotSatisfiable, "InvalidPartNumber")
}
