package s3api

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strongboxdb/strongbox/objstore"
	"github.com/strongboxdb/strongbox/s3api/checksum"
	"github.com/strongboxdb/strongbox/s3api/sigv4"
)

// memBackend is a small in-memory Backend for handler tests: enough of the
// store's contract (blobs, objects, uploads) to drive the HTTP layer end to
// end. The real store and its consistency are tested in node, raftfsm and
// server.
type memBackend struct {
	untouchable // methods a test does not expect fail it

	mu        sync.Mutex
	now       time.Time
	buckets   map[string]bool
	objects   map[string]memObject // bucket + "/" + key
	blobs     map[string][]byte
	refs      map[string]objstore.BlobRef
	discarded []string
	uploads   map[string]*memUpload
	nextID    int
	// failRead, when set, makes every body reader fail after that many
	// bytes (a blob no node can serve).
	failRead int64
}

type memObject struct {
	info   objstore.ObjectInfo
	inline []byte
}

type memUpload struct {
	u     objstore.Upload
	parts map[int]objstore.PartInfo
}

func newMemBackend(t *testing.T, buckets ...string) *memBackend {
	m := &memBackend{
		untouchable: untouchable{t},
		now:         time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC),
		buckets:     map[string]bool{},
		objects:     map[string]memObject{},
		blobs:       map[string][]byte{},
		refs:        map[string]objstore.BlobRef{},
		uploads:     map[string]*memUpload{},
		failRead:    -1,
	}
	for _, b := range buckets {
		m.buckets[b] = true
	}
	return m
}

func (m *memBackend) HeadBucket(_ context.Context, name string) (objstore.BucketInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.buckets[name] {
		return objstore.BucketInfo{}, objstore.ErrNoSuchBucket
	}
	return objstore.BucketInfo{Name: name}, nil
}

func (m *memBackend) StoreBlob(_ context.Context, r io.Reader, limit int64, algs ...checksum.Algorithm) (objstore.BlobRef, error) {
	set := checksum.NewSet(algs...)
	var buf bytes.Buffer
	n, err := io.Copy(io.MultiWriter(&buf, set), io.LimitReader(r, limit+1))
	if err != nil {
		return objstore.BlobRef{}, err
	}
	if n > limit {
		return objstore.BlobRef{}, objstore.ErrEntityTooLarge
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextID++
	ref := objstore.BlobRef{ID: fmt.Sprintf("%032x", m.nextID), Size: n, MD5: set.ETag(), Checksums: set.Checksums()}
	m.blobs[ref.ID] = buf.Bytes()
	m.refs[ref.ID] = ref
	return ref, nil
}

func (m *memBackend) DiscardBlob(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.blobs, id)
	m.discarded = append(m.discarded, id)
	return nil
}

func (m *memBackend) PutObject(_ context.Context, req *objstore.PutRequest) (objstore.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.buckets[req.Bucket] {
		return objstore.ObjectInfo{}, objstore.ErrNoSuchBucket
	}
	info := req.Info
	info.LastModified = m.now
	obj := memObject{info: info, inline: req.Body}
	if req.Blob != nil {
		if _, ok := m.blobs[req.Blob.ID]; !ok {
			return objstore.ObjectInfo{}, errors.New("memBackend: unknown blob")
		}
		obj.info.Blobs = []objstore.BlobRef{*req.Blob}
		obj.inline = nil
	}
	m.objects[req.Bucket+"/"+req.Key] = obj
	return obj.info, nil
}

func (m *memBackend) object(bucket, key string) (memObject, error) {
	if !m.buckets[bucket] {
		return memObject{}, objstore.ErrNoSuchBucket
	}
	obj, ok := m.objects[bucket+"/"+key]
	if !ok {
		return memObject{}, objstore.ErrNoSuchKey
	}
	return obj, nil
}

func (m *memBackend) HeadObject(_ context.Context, bucket, key string) (objstore.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	obj, err := m.object(bucket, key)
	return obj.info, err
}

func (m *memBackend) GetObject(_ context.Context, bucket, key string) (objstore.ObjectInfo, objstore.Body, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	obj, err := m.object(bucket, key)
	if err != nil {
		return objstore.ObjectInfo{}, nil, err
	}
	data := obj.inline
	if obj.info.Blobs != nil {
		data = nil
		for _, b := range obj.info.Blobs {
			data = append(data, m.blobs[b.ID]...)
		}
	}
	return obj.info, memBody{data: data, failAfter: m.failRead}, nil
}

// memBody serves a byte slice; failAfter >= 0 makes reads fail after that
// many bytes of the opened range.
type memBody struct {
	data      []byte
	failAfter int64
}

func (b memBody) Open(_ context.Context, off, length int64) (io.ReadCloser, error) {
	if off < 0 || off+length > int64(len(b.data)) {
		return nil, fmt.Errorf("memBody: range %d+%d outside %d bytes", off, length, len(b.data))
	}
	var r io.Reader = bytes.NewReader(b.data[off : off+length])
	if b.failAfter >= 0 {
		r = io.MultiReader(io.LimitReader(r, b.failAfter), failingReader{})
	}
	return io.NopCloser(r), nil
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, objstore.ErrUnavailable }

func (m *memBackend) CreateMultipartUpload(_ context.Context, u *objstore.Upload) (objstore.Upload, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.buckets[u.Bucket] {
		return objstore.Upload{}, objstore.ErrNoSuchBucket
	}
	m.nextID++
	stored := *u
	stored.UploadID = fmt.Sprintf("upload-%d", m.nextID)
	stored.Initiated = m.now
	m.uploads[stored.UploadID] = &memUpload{u: stored, parts: map[int]objstore.PartInfo{}}
	return stored, nil
}

func (m *memBackend) upload(bucket, key, id string) (*memUpload, error) {
	if !m.buckets[bucket] {
		return nil, objstore.ErrNoSuchBucket
	}
	up, ok := m.uploads[id]
	if !ok || up.u.Bucket != bucket || up.u.Key != key {
		return nil, objstore.ErrNoSuchUpload
	}
	return up, nil
}

func (m *memBackend) UploadPart(_ context.Context, req *objstore.UploadPartRequest) (objstore.PartInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	up, err := m.upload(req.Bucket, req.Key, req.UploadID)
	if err != nil {
		return objstore.PartInfo{}, err
	}
	p := objstore.PartInfo{PartNumber: req.PartNumber, LastModified: m.now, Blob: req.Blob}
	up.parts[req.PartNumber] = p
	return p, nil
}

func (m *memBackend) ListParts(_ context.Context, bucket, key, id string, marker, maxParts int) (objstore.ListPartsResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	up, err := m.upload(bucket, key, id)
	if err != nil {
		return objstore.ListPartsResult{}, err
	}
	res := objstore.ListPartsResult{Upload: up.u}
	var numbers []int
	for n := range up.parts {
		if n > marker {
			numbers = append(numbers, n)
		}
	}
	sort.Ints(numbers)
	for _, n := range numbers {
		if len(res.Parts) == maxParts {
			res.IsTruncated = true
			break
		}
		res.Parts = append(res.Parts, up.parts[n])
		res.NextPartNumberMarker = n
	}
	return res, nil
}

func (m *memBackend) AbortMultipartUpload(_ context.Context, bucket, key, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.upload(bucket, key, id); err != nil {
		return err
	}
	delete(m.uploads, id)
	return nil
}

// CompleteMultipartUpload follows the documented order of checks and
// computes S3's multipart ETag and checksums.
func (m *memBackend) CompleteMultipartUpload(_ context.Context, req *objstore.CompleteRequest) (objstore.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	up, err := m.upload(req.Bucket, req.Key, req.UploadID)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	var blobs []objstore.BlobRef
	var digests []byte
	var sums []string
	var full []checksum.PartSum
	for i, cp := range req.Parts {
		if i > 0 && cp.PartNumber <= req.Parts[i-1].PartNumber {
			return objstore.ObjectInfo{}, objstore.ErrInvalidPartOrder
		}
	}
	alg, _ := checksum.ParseAlgorithm(up.u.ChecksumAlgorithm)
	for i, cp := range req.Parts {
		p, ok := up.parts[cp.PartNumber]
		if !ok || strings.Trim(cp.ETag, `"`) != p.Blob.MD5 {
			return objstore.ObjectInfo{}, objstore.ErrInvalidPart
		}
		for a, v := range cp.Checksums {
			if p.Blob.Checksums[a] != v {
				return objstore.ObjectInfo{}, objstore.ErrInvalidPart
			}
		}
		if i < len(req.Parts)-1 && p.Blob.Size < objstore.MinPartSize {
			return objstore.ObjectInfo{}, objstore.ErrEntityTooSmall
		}
		blobs = append(blobs, p.Blob)
		d, _ := hex.DecodeString(p.Blob.MD5)
		digests = append(digests, d...)
		if alg.Valid() {
			sums = append(sums, p.Blob.Checksums[alg.String()])
			full = append(full, checksum.PartSum{Sum: p.Blob.Checksums[alg.String()], Size: p.Blob.Size})
		}
	}
	sum := md5.Sum(digests)
	info := objstore.ObjectInfo{
		Key: req.Key, ETag: fmt.Sprintf("%x-%d", sum, len(blobs)), LastModified: m.now,
		ContentType: up.u.ContentType, Headers: up.u.Headers, UserMeta: up.u.UserMeta, Tags: up.u.Tags,
		Blobs: blobs, PartsCount: len(blobs), ChecksumType: up.u.ChecksumType,
	}
	for _, b := range blobs {
		info.Size += b.Size
	}
	if alg.Valid() {
		var v string
		if up.u.ChecksumType == objstore.ChecksumComposite {
			v, err = checksum.Composite(alg, sums)
		} else {
			v, err = checksum.CombineFull(alg, full)
		}
		if err != nil {
			return objstore.ObjectInfo{}, err
		}
		info.Checksums = map[string]string{alg.String(): v}
	}
	for a, want := range req.Checksums {
		if info.Checksums[a] != want {
			return objstore.ObjectInfo{}, objstore.ErrBadDigest
		}
	}
	m.objects[req.Bucket+"/"+req.Key] = memObject{info: info}
	delete(m.uploads, req.UploadID)
	return info, nil
}

func (m *memBackend) ListMultipartUploads(_ context.Context, bucket string, opts objstore.ListUploadsOptions) (objstore.ListUploadsResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.buckets[bucket] {
		return objstore.ListUploadsResult{}, objstore.ErrNoSuchBucket
	}
	var all []objstore.Upload
	for _, up := range m.uploads {
		if up.u.Bucket == bucket && strings.HasPrefix(up.u.Key, opts.Prefix) {
			all = append(all, up.u)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Key != all[j].Key {
			return all[i].Key < all[j].Key
		}
		return all[i].UploadID < all[j].UploadID
	})
	var res objstore.ListUploadsResult
	for _, u := range all {
		if u.Key < opts.KeyMarker || (u.Key == opts.KeyMarker && (opts.UploadIDMarker == "" || u.UploadID <= opts.UploadIDMarker)) {
			continue
		}
		if len(res.Uploads) == opts.MaxUploads {
			res.IsTruncated = true
			break
		}
		res.Uploads = append(res.Uploads, u)
		res.NextKeyMarker, res.NextUploadIDMarker = u.Key, u.UploadID
	}
	return res, nil
}

// testServer serves s3api over m with credentials ak/sk.
func testServer(m Backend, opts Options) *Server {
	opts.Credentials = func(ak string) (string, Rights, bool) { return "sk", RightsAll, ak == "ak" }
	return New(m, opts)
}

// newRequest is httptest.NewRequest with the Content-Length header the
// net/http server keeps in a served request's Header: PutObject and
// UploadPart refuse a body without it, as S3 does.
func newRequest(method, target, body string) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return r
}

// do signs and serves one request, returning the recorded response.
func do(s *Server, method, target, body string, headers ...string) *httptest.ResponseRecorder {
	r := newRequest(method, target, body)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	sigv4.Sign(r, "ak", "sk", "us-east-1", sigv4.UnsignedPayload, time.Now())
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

// trailerBody frames data as a STREAMING-UNSIGNED-PAYLOAD-TRAILER body
// ending with the trailer "name:value".
func trailerBody(data []byte, name, value string) string {
	return fmt.Sprintf("%x\r\n%s\r\n0\r\n%s:%s\r\n\r\n", len(data), data, name, value)
}

// doTrailer sends data aws-chunked with a trailing checksum.
func doTrailer(s *Server, method, target string, data []byte, name, value string) *httptest.ResponseRecorder {
	r := newRequest(method, target, trailerBody(data, name, value))
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Trailer", name)
	sigv4.Sign(r, "ak", "sk", "us-east-1", sigv4.StreamingUnsignedPayloadTrailer, time.Now())
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

func wantCode(t *testing.T, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if w.Code != status || (code != "" && !strings.Contains(w.Body.String(), "<Code>"+code+"</Code>")) {
		t.Fatalf("got %d %s; want %d %s", w.Code, w.Body, status, code)
	}
}

var _ http.Handler = (*Server)(nil)
