package s3api

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/strongboxdb/strongbox/objstore"
	"github.com/strongboxdb/strongbox/s3api/checksum"
)

// The algorithms S3 added in April 2026.
var newAlgorithms = []checksum.Algorithm{checksum.MD5, checksum.SHA512, checksum.XXHASH64, checksum.XXHASH3, checksum.XXHASH128}

// Each new algorithm works as a header and as a trailer, inline and as a
// blob: verified, stored, returned by PUT and by GET/HEAD with checksum
// mode; a wrong value is BadDigest naming the algorithm and stores
// nothing; a malformed one is InvalidRequest.
func TestPutObjectNewChecksumAlgorithms(t *testing.T) {
	m := newMemBackend(t, "bkt")
	s := testServer(m, Options{InlineThreshold: 8})
	for _, alg := range newAlgorithms {
		for _, data := range [][]byte{[]byte("small"), bytes.Repeat([]byte("large "), 10)} {
			name := fmt.Sprintf("%s/%d", alg, len(data))
			t.Run(name, func(t *testing.T) {
				hdr := alg.HeaderName()
				want := alg.Of(data)
				other := alg.Of(append(data, '!'))

				for _, via := range []string{"header", "trailer"} {
					key := "/bkt/" + name + "/" + via
					var w *httptest.ResponseRecorder
					if via == "header" {
						w = do(s, http.MethodPut, key, string(data), hdr, want)
					} else {
						w = doTrailer(s, http.MethodPut, key, data, hdr, want)
					}
					wantCode(t, w, http.StatusOK, "")
					if got := w.Header().Get(hdr); got != want || w.Header().Get("x-amz-checksum-type") != "FULL_OBJECT" {
						t.Errorf("%s: PUT response headers %v", via, w.Header())
					}
					o := m.objects["bkt"+key[4:]]
					if len(o.info.Checksums) != 1 || o.info.Checksums[alg.String()] != want {
						t.Errorf("%s: stored checksums %v, want only %s", via, o.info.Checksums, alg)
					}
					for _, method := range []string{http.MethodGet, http.MethodHead} {
						w := do(s, method, key, "", "X-Amz-Checksum-Mode", "ENABLED")
						if w.Code != http.StatusOK || w.Header().Get(hdr) != want {
							t.Errorf("%s: %s: %d %v", via, method, w.Code, w.Header())
						}
					}
				}

				// A mismatch: BadDigest naming the algorithm; no object, and
				// a blob already written is discarded.
				bad := "/bkt/" + name + "/bad"
				msg := "The " + strings.ToUpper(alg.String()) + " you specified did not match the calculated checksum."
				blobs := len(m.blobs)
				for _, w := range []*httptest.ResponseRecorder{
					do(s, http.MethodPut, bad, string(data), hdr, other),
					doTrailer(s, http.MethodPut, bad, data, hdr, other),
				} {
					var e struct{ Code, Message string }
					if err := xml.Unmarshal(w.Body.Bytes(), &e); err != nil || w.Code != http.StatusBadRequest || e.Code != "BadDigest" || e.Message != msg {
						t.Errorf("mismatch: %d %s, want BadDigest %q", w.Code, w.Body, msg)
					}
				}
				if _, ok := m.objects["bkt"+bad[4:]]; ok {
					t.Error("object written despite a mismatch")
				}
				if len(m.blobs) != blobs {
					t.Errorf("%d blobs after the mismatches, %d before", len(m.blobs), blobs)
				}

				// A value of the wrong length is refused before the body.
				w := do(s, http.MethodPut, bad, string(data), hdr, checksum.CRC32.Of(data))
				wantCode(t, w, http.StatusBadRequest, "InvalidRequest")
				if !strings.Contains(w.Body.String(), "Value for "+hdr+" header is invalid.") {
					t.Errorf("malformed value: %s", w.Body)
				}
			})
		}
	}
}

// Content-MD5 is checked but is not x-amz-checksum-md5: alone, the object
// gets S3's default CRC64NVME; with x-amz-checksum-md5 too, both are
// checked and the MD5 checksum is kept. x-amz-checksum-md5 counts as a
// checksum algorithm for the one-algorithm rule.
func TestContentMD5IsNotChecksumMD5(t *testing.T) {
	m := newMemBackend(t, "bkt")
	s := testServer(m, Options{})
	data := []byte("strongbox")
	sum := md5.Sum(data)
	contentMD5 := base64.StdEncoding.EncodeToString(sum[:])
	if contentMD5 != checksum.MD5.Of(data) {
		t.Fatal("MD5 wire forms differ")
	}

	wantCode(t, do(s, http.MethodPut, "/bkt/a", string(data), "Content-MD5", contentMD5), http.StatusOK, "")
	if got := m.objects["bkt/a"].info.Checksums; len(got) != 1 || got["crc64nvme"] == "" {
		t.Errorf("Content-MD5 only: checksums %v, want the default crc64nvme", got)
	}
	wantCode(t, do(s, http.MethodPut, "/bkt/b", string(data), "Content-MD5", contentMD5, "X-Amz-Checksum-Md5", contentMD5), http.StatusOK, "")
	if got := m.objects["bkt/b"].info.Checksums; len(got) != 1 || got["md5"] != contentMD5 {
		t.Errorf("both: checksums %v", got)
	}
	// Content-MD5 right, x-amz-checksum-md5 wrong: BadDigest naming MD5.
	w := do(s, http.MethodPut, "/bkt/c", string(data), "Content-MD5", contentMD5, "X-Amz-Checksum-Md5", checksum.MD5.Of(nil))
	wantCode(t, w, http.StatusBadRequest, "BadDigest")
	if !strings.Contains(w.Body.String(), "The MD5 you specified did not match") {
		t.Errorf("mismatch message: %s", w.Body)
	}
	wantCode(t, do(s, http.MethodPut, "/bkt/c", string(data), "X-Amz-Checksum-Md5", contentMD5,
		"X-Amz-Checksum-Xxhash3", checksum.XXHASH3.Of(data)), http.StatusBadRequest, "InvalidRequest")
	if _, ok := m.objects["bkt/c"]; ok {
		t.Error("refused PUT stored an object")
	}
}

// A multipart upload with a new algorithm: COMPOSITE by default, FULL_OBJECT
// refused; parts carry it (header or trailer) and list it; Complete takes
// the part values and yields hash(part digests)-N, in the result and in
// GetObjectAttributes.
func TestMultipartNewChecksumAlgorithm(t *testing.T) {
	for _, alg := range newAlgorithms {
		t.Run(alg.String(), func(t *testing.T) {
			m := newMemBackend(t, "bkt")
			s := testServer(m, Options{})
			upper := strings.ToUpper(alg.String())
			elem := "Checksum" + upper

			w := do(s, http.MethodPost, "/bkt/k?uploads", "", "X-Amz-Checksum-Algorithm", upper, "X-Amz-Checksum-Type", "FULL_OBJECT")
			wantCode(t, w, http.StatusBadRequest, "InvalidRequest")
			if !strings.Contains(w.Body.String(), "The FULL_OBJECT checksum type cannot be used with the "+alg.String()+" checksum algorithm.") {
				t.Errorf("FULL_OBJECT refusal: %s", w.Body)
			}
			if len(m.uploads) != 0 {
				t.Fatal("refused create made an upload")
			}
			w = do(s, http.MethodPost, "/bkt/k?uploads", "", "X-Amz-Checksum-Algorithm", upper)
			wantCode(t, w, http.StatusOK, "")
			if w.Header().Get("x-amz-checksum-algorithm") != upper || w.Header().Get("x-amz-checksum-type") != "COMPOSITE" {
				t.Fatalf("create headers: %v", w.Header())
			}
			var created initiateMultipartUploadResult
			if err := xml.Unmarshal(w.Body.Bytes(), &created); err != nil {
				t.Fatal(err)
			}
			partURL := func(n int) string { return fmt.Sprintf("/bkt/k?partNumber=%d&uploadId=%s", n, created.UploadID) }

			part1 := bytes.Repeat([]byte("a"), objstore.MinPartSize)
			part2 := []byte("tail")
			w = do(s, http.MethodPut, partURL(1), string(part1), alg.HeaderName(), alg.Of(part1))
			wantCode(t, w, http.StatusOK, "")
			if w.Header().Get(alg.HeaderName()) != alg.Of(part1) {
				t.Errorf("UploadPart headers: %v", w.Header())
			}
			wantCode(t, doTrailer(s, http.MethodPut, partURL(2), part2, alg.HeaderName(), alg.Of(part1)), http.StatusBadRequest, "BadDigest")
			wantCode(t, doTrailer(s, http.MethodPut, partURL(2), part2, alg.HeaderName(), alg.Of(part2)), http.StatusOK, "")
			// Another algorithm than the upload's is a type mismatch.
			wantCode(t, do(s, http.MethodPut, partURL(3), "x", "X-Amz-Checksum-Sha256", checksum.SHA256.Of([]byte("x"))), http.StatusBadRequest, "InvalidRequest")

			w = do(s, http.MethodGet, "/bkt/k?uploadId="+created.UploadID, "")
			wantCode(t, w, http.StatusOK, "")
			if !strings.Contains(w.Body.String(), "<"+elem+">"+alg.Of(part2)+"</"+elem+">") ||
				!strings.Contains(w.Body.String(), "<ChecksumAlgorithm>"+upper+"</ChecksumAlgorithm>") {
				t.Errorf("ListParts: %s", w.Body)
			}

			part := func(n int, data []byte) string {
				return fmt.Sprintf(`<Part><PartNumber>%d</PartNumber><ETag>"%s"</ETag><%s>%s</%s></Part>`, n, md5hex(data), elem, alg.Of(data), elem)
			}
			raw := func(data []byte) []byte {
				h := alg.New()
				h.Write(data)
				return h.Sum(nil)
			}
			composite := alg.Of(append(raw(part1), raw(part2)...)) + "-2"
			w = do(s, http.MethodPost, "/bkt/k?uploadId="+created.UploadID,
				"<CompleteMultipartUpload>"+part(1, part1)+part(2, part2)+"</CompleteMultipartUpload>", alg.HeaderName(), composite)
			wantCode(t, w, http.StatusOK, "")
			for _, want := range []string{"<" + elem + ">" + composite + "</" + elem + ">", "<ChecksumType>COMPOSITE</ChecksumType>"} {
				if !strings.Contains(w.Body.String(), want) {
					t.Errorf("Complete lacks %s: %s", want, w.Body)
				}
			}

			w = do(s, http.MethodGet, "/bkt/k?attributes", "", "X-Amz-Object-Attributes", "Checksum,ObjectParts")
			wantCode(t, w, http.StatusOK, "")
			for _, want := range []string{
				// Without the -N that Complete returned, as S3 answers.
				"<Checksum><" + elem + ">" + strings.TrimSuffix(composite, "-2") + "</" + elem + "><ChecksumType>COMPOSITE</ChecksumType></Checksum>",
				"<Part><PartNumber>2</PartNumber><Size>4</Size><" + elem + ">" + alg.Of(part2) + "</" + elem + "></Part>",
			} {
				if !strings.Contains(w.Body.String(), want) {
					t.Errorf("attributes lack %s:\n%s", want, w.Body)
				}
			}
		})
	}
}

// The Checksum* elements come in the order of S3's API reference.
func TestChecksumFieldsOrder(t *testing.T) {
	all := map[string]string{}
	for _, alg := range checksum.All() {
		all[alg.String()] = "v"
	}
	b, err := xml.Marshal(struct {
		XMLName xml.Name `xml:"P"`
		checksumFields
	}{checksumFields: checksumXML(all)})
	if err != nil {
		t.Fatal(err)
	}
	want := "<P><ChecksumCRC32>v</ChecksumCRC32><ChecksumCRC32C>v</ChecksumCRC32C><ChecksumCRC64NVME>v</ChecksumCRC64NVME>" +
		"<ChecksumMD5>v</ChecksumMD5><ChecksumSHA1>v</ChecksumSHA1><ChecksumSHA256>v</ChecksumSHA256><ChecksumSHA512>v</ChecksumSHA512>" +
		"<ChecksumXXHASH128>v</ChecksumXXHASH128><ChecksumXXHASH3>v</ChecksumXXHASH3><ChecksumXXHASH64>v</ChecksumXXHASH64></P>"
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	if got := checksumXML(all).values(); fmt.Sprint(got) != fmt.Sprint(all) {
		t.Errorf("values() = %v, want %v", got, all)
	}
}
