package s3api

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/strongboxdb/strongbox/s3api/sigv4"
)

// POST Object (post.go) against the in-memory backend: every refusal with
// its exact status and code, and that it stored nothing.

var postNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

const postCred = "ak/20260304/us-east-1/s3/aws4_request"

// postConds are the conditions every SigV4 test form needs.
const postConds = `{"bucket":"bkt"},["eq","$x-amz-algorithm","AWS4-HMAC-SHA256"],["eq","$x-amz-credential","` + postCred + `"],["eq","$x-amz-date","20260304T000000Z"]`

func hmacSHA256(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// signV4 returns the form fields authenticating policyJSON with SigV4,
// computed independently of package sigv4.
func signV4(policyJSON string) [][2]string {
	p := base64.StdEncoding.EncodeToString([]byte(policyJSON))
	k := hmacSHA256([]byte("AWS4sk"), "20260304")
	for _, s := range []string{"us-east-1", "s3", "aws4_request"} {
		k = hmacSHA256(k, s)
	}
	return [][2]string{
		{"X-Amz-Algorithm", "AWS4-HMAC-SHA256"}, {"X-Amz-Credential", postCred},
		{"X-Amz-Date", "20260304T000000Z"}, {"Policy", p}, {"X-Amz-Signature", hex.EncodeToString(hmacSHA256(k, p))},
	}
}

func policyJSON(expiration string, conds ...string) string {
	return `{"expiration":"` + expiration + `","conditions":[` + strings.Join(append([]string{postConds}, conds...), ",") + `]}`
}

// postFile is the file part; after are fields sent after it.
type postFile struct {
	name     string // the filename parameter; "-" for none
	content  string
	after    [][2]string
	unnamed  bool   // the part's form name is empty, as a browser never sends
	encoding string // the part's Content-Transfer-Encoding, if any
}

func formBody(fields [][2]string, file *postFile) (string, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, f := range fields {
		_ = mw.WriteField(f[0], f[1])
	}
	if file != nil {
		h := make(map[string][]string)
		cd := `form-data; name="file"`
		if file.unnamed {
			cd = `form-data; name=""`
		}
		if file.name != "-" {
			cd += `; filename="` + file.name + `"`
		}
		h["Content-Disposition"] = []string{cd}
		h["Content-Type"] = []string{"application/octet-stream"}
		if file.encoding != "" {
			h["Content-Transfer-Encoding"] = []string{file.encoding}
		}
		pw, _ := mw.CreatePart(h)
		_, _ = pw.Write([]byte(file.content))
		for _, f := range file.after {
			_ = mw.WriteField(f[0], f[1])
		}
	}
	_ = mw.Close()
	return b.String(), mw.FormDataContentType()
}

// doPost posts an unsigned form to target.
func doPost(s *Server, target string, fields [][2]string, file *postFile) *httptest.ResponseRecorder {
	body, ct := formBody(fields, file)
	r := newRequest(http.MethodPost, target, body)
	r.Header.Set("Content-Type", ct)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

func postServer(t *testing.T, opts Options) (*Server, *memBackend) {
	m := newMemBackend(t, "bkt")
	opts.Now = func() time.Time { return postNow }
	return testServer(m, opts), m
}

func wantPostError(t *testing.T, w *httptest.ResponseRecorder, m *memBackend, status int, code, message string) {
	t.Helper()
	wantCode(t, w, status, code)
	var e errorBody
	if err := xml.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("error document: %v", err)
	}
	if message != "" && e.Message != message {
		t.Errorf("message %q, want %q", e.Message, message)
	}
	// S3 writes quotes in messages as they are, and clients match the
	// raw text (minio-go's tests do).
	if message != "" && !strings.Contains(w.Body.String(), "<Message>"+message+"</Message>") {
		t.Errorf("message not written verbatim: %s", w.Body)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.objects) != 0 || len(m.blobs) != 0 {
		t.Errorf("refused POST left %d objects, %d blobs", len(m.objects), len(m.blobs))
	}
}

const future = "2026-03-05T00:00:00.000Z"

func TestPostObjectSuccess(t *testing.T) {
	s, m := postServer(t, Options{})
	pol := policyJSON(future, `["starts-with","$key","up/"]`, `["starts-with","$Content-Type","image/"]`,
		`{"x-amz-meta-uuid":"1234"}`, `["starts-with","$Cache-Control",""]`, `{"acl":"public-read"}`,
		`["eq","$tagging","<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>"]`,
		`["content-length-range",1,100]`)
	fields := append([][2]string{{"key", "up/${filename}"}, {"Content-Type", "image/png"}, {"X-Amz-Meta-UUID", "1234"},
		{"cache-control", "max-age=60"}, {"acl", "public-read"}, {"x-ignore-me", "anything"},
		{"tagging", "<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>"}}, signV4(pol)...)
	w := doPost(s, "/bkt", fields, &postFile{name: `C:\dir\pic.png`, content: "hello", after: [][2]string{{"submit", "Upload"}}})
	if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
		t.Fatalf("got %d %s; want 204", w.Code, w.Body)
	}
	if got, want := w.Header().Get("ETag"), `"5d41402abc4b2a76b9719d911017c592"`; got != want {
		t.Errorf("ETag %s, want %s", got, want)
	}
	if got, want := w.Header().Get("Location"), "http://example.com/bkt/up%2Fpic.png"; got != want {
		t.Errorf("Location %s, want %s", got, want)
	}
	obj, err := m.object("bkt", "up/pic.png")
	if err != nil {
		t.Fatal(err)
	}
	info := obj.info
	if string(obj.inline) != "hello" || info.ContentType != "image/png" || info.UserMeta["uuid"] != "1234" ||
		info.Headers["Cache-Control"] != "max-age=60" || info.Tags["k"] != "v" || info.Checksums["crc64nvme"] == "" {
		t.Errorf("stored %q %+v", obj.inline, info)
	}
}

func TestPostObjectAnswers(t *testing.T) {
	s, _ := postServer(t, Options{})
	post := func(field, value string) *httptest.ResponseRecorder {
		pol := policyJSON(future, `{"key":"k"}`, `["starts-with","$`+field+`",""]`)
		return doPost(s, "/bkt", append([][2]string{{"key", "k"}, {field, value}}, signV4(pol)...), &postFile{name: "f", content: "x"})
	}
	if w := post("success_action_status", "200"); w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Errorf("200: %d %s", w.Code, w.Body)
	}
	if w := post("success_action_status", "999"); w.Code != http.StatusNoContent {
		t.Errorf("999: %d, want 204", w.Code)
	}
	w := post("success_action_status", "201")
	var got postResponse
	want := postResponse{XMLName: xml.Name{Local: "PostResponse"}, Location: "http://example.com/bkt/k", Bucket: "bkt", Key: "k", ETag: `"9dd4e461268c8034f5c8564e155c67a6"`}
	if err := xml.Unmarshal(w.Body.Bytes(), &got); w.Code != http.StatusCreated || err != nil || got != want {
		t.Errorf("201: %d %s", w.Code, w.Body)
	}
	w = post("success_action_redirect", "https://app.test/done?x=1")
	if got, want := w.Header().Get("Location"), "https://app.test/done?x=1&bucket=bkt&key=k&etag=%229dd4e461268c8034f5c8564e155c67a6%22"; w.Code != http.StatusSeeOther || got != want {
		t.Errorf("redirect: %d %s", w.Code, got)
	}
	// A URL S3 cannot interpret (relative) is ignored, and so is one a
	// browser should not be sent to.
	for _, u := range []string{"/relative", "javascript://x/%0aalert(1)"} {
		if w := post("redirect", u); w.Code != http.StatusNoContent {
			t.Errorf("redirect to %s: %d, want 204", u, w.Code)
		}
	}
}

// TestPostObjectStoresFileBytes: the file is stored as sent, whatever
// Content-Transfer-Encoding its part claims (mime/multipart's NextPart
// would decode quoted-printable behind the checksums' back).
func TestPostObjectStoresFileBytes(t *testing.T) {
	s, m := postServer(t, Options{})
	pol := policyJSON(future, `{"key":"qp"}`)
	w := doPost(s, "/bkt", append([][2]string{{"key", "qp"}}, signV4(pol)...), &postFile{name: "f", content: "a=3Db=\r\n", encoding: "quoted-printable"})
	if w.Code != http.StatusNoContent {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
	obj, err := m.object("bkt", "qp")
	if err != nil {
		t.Fatal(err)
	}
	if string(obj.inline) != "a=3Db=\r\n" {
		t.Errorf("stored %q, want the bytes sent", obj.inline)
	}
}

func TestPostObjectSigV2AndVirtualHost(t *testing.T) {
	s, m := postServer(t, Options{})
	p := base64.StdEncoding.EncodeToString([]byte(`{"expiration":"2026-03-05T00:00:00Z","conditions":[{"bucket":"bkt"},["starts-with","$key",""]]}`))
	mac := hmac.New(sha1.New, []byte("sk"))
	mac.Write([]byte(p))
	fields := [][2]string{{"key", "v2"}, {"AWSAccessKeyId", "ak"}, {"policy", p}, {"signature", base64.StdEncoding.EncodeToString(mac.Sum(nil))}}
	body, ct := formBody(fields, &postFile{name: "f", content: "two"})
	r := newRequest(http.MethodPost, "http://bkt.localhost:9000/", body)
	r.Header.Set("Content-Type", ct)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != http.StatusNoContent || w.Header().Get("Location") != "http://bkt.localhost:9000/v2" {
		t.Fatalf("got %d %s %s", w.Code, w.Header(), w.Body)
	}
	if _, err := m.object("bkt", "v2"); err != nil {
		t.Fatal(err)
	}

	s, m = postServer(t, Options{})
	w = doPost(s, "/bkt", fields[:3], &postFile{name: "f", content: "two"})
	wantPostError(t, w, m, http.StatusBadRequest, "InvalidArgument",
		"Bucket POST must contain a field named 'Signature'.  If it is specified, please check the order of the fields.")
	if !strings.Contains(w.Body.String(), "<ArgumentName>Signature</ArgumentName><ArgumentValue></ArgumentValue>") {
		t.Errorf("no ArgumentName: %s", w.Body)
	}
	bad := append(fields[:3:3], [2]string{"signature", base64.StdEncoding.EncodeToString(make([]byte, 20))})
	wantPostError(t, doPost(s, "/bkt", bad, &postFile{name: "f", content: "two"}), m, http.StatusForbidden, "SignatureDoesNotMatch", "")
}

// TestPostObjectStreamsLargeFiles: a file above InlineThreshold becomes a
// blob, and content-length-range refuses one outside it after the fact,
// leaving no blob behind.
func TestPostObjectStreamsLargeFiles(t *testing.T) {
	s, m := postServer(t, Options{InlineThreshold: 8})
	big := strings.Repeat("x", 64)
	pol := policyJSON(future, `{"key":"big"}`, `["content-length-range","10","64"]`)
	w := doPost(s, "/bkt", append([][2]string{{"key", "big"}}, signV4(pol)...), &postFile{name: "f", content: big})
	if w.Code != http.StatusNoContent {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
	obj, _ := m.object("bkt", "big")
	if len(obj.info.Blobs) != 1 || obj.info.Size != 64 {
		t.Fatalf("stored %+v", obj.info)
	}

	s, m = postServer(t, Options{InlineThreshold: 8})
	pol = policyJSON(future, `{"key":"big"}`, `["content-length-range",10,63]`)
	w = doPost(s, "/bkt", append([][2]string{{"key", "big"}}, signV4(pol)...), &postFile{name: "f", content: big})
	wantPostError(t, w, m, http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")

	pol = policyJSON(future, `{"key":"big"}`, `["content-length-range",65,100]`)
	w = doPost(s, "/bkt", append([][2]string{{"key", "big"}}, signV4(pol)...), &postFile{name: "f", content: big})
	wantPostError(t, w, m, http.StatusBadRequest, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size")
	if len(m.discarded) != 1 {
		t.Errorf("discarded %v, want the refused blob", m.discarded)
	}
}

func TestPostObjectRefusals(t *testing.T) {
	good := policyJSON(future, `{"key":"k"}`)
	file := &postFile{name: "f", content: "abc"}
	with := func(pol string, extra ...[2]string) [][2]string {
		return append(append([][2]string{{"key", "k"}}, extra...), signV4(pol)...)
	}
	without := func(fields [][2]string, name string) [][2]string {
		var out [][2]string
		for _, f := range fields {
			if !strings.EqualFold(f[0], name) {
				out = append(out, f)
			}
		}
		return out
	}
	replace := func(fields [][2]string, name, value string) [][2]string {
		out := without(fields, name)
		return append(out, [2]string{name, value})
	}
	tests := []struct {
		name    string
		target  string
		fields  [][2]string
		file    *postFile
		status  int
		code    string
		message string
	}{
		{"no bucket", "/nobkt", with(good), file, 404, "NoSuchBucket", ""},
		{"missing key", "/bkt", without(with(good), "key"), file, 400, "InvalidArgument",
			"Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields."},
		{"key after file", "/bkt", without(with(good), "key"), &postFile{name: "f", content: "abc", after: [][2]string{{"key", "k"}}}, 400, "InvalidArgument",
			"Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields."},
		{"no file", "/bkt", with(good), nil, 400, "InvalidArgument", "POST requires exactly one file upload per request."},
		{"missing signature", "/bkt", without(with(good), "x-amz-signature"), file, 400, "InvalidArgument",
			"Bucket POST must contain a field named 'X-Amz-Signature'.  If it is specified, please check the order of the fields."},
		{"missing credential", "/bkt", without(with(good), "x-amz-credential"), file, 400, "InvalidArgument",
			"Bucket POST must contain a field named 'X-Amz-Credential'.  If it is specified, please check the order of the fields."},
		{"anonymous", "/bkt", [][2]string{{"key", "k"}, {"policy", "e30="}}, file, 403, "AccessDenied", "Access Denied"},
		{"bad signature", "/bkt", replace(with(good), "X-Amz-Signature", strings.Repeat("0", 64)), file, 403, "SignatureDoesNotMatch", ""},
		{"unknown key", "/bkt", replace(with(good), "X-Amz-Credential", "nope/20260304/us-east-1/s3/aws4_request"), file, 403, "InvalidAccessKeyId", ""},
		{"expired", "/bkt", with(policyJSON("2026-03-04T05:06:07Z", `{"key":"k"}`)), file, 403, "AccessDenied",
			"Invalid according to Policy: Policy expired."},
		{"condition failed", "/bkt", with(policyJSON(future, `["eq","$key","other"]`)), file, 403, "AccessDenied",
			`Invalid according to Policy: Policy Condition failed: ["eq", "$key", "other"]`},
		{"wrong bucket", "/bkt", with(strings.Replace(good, `{"bucket":"bkt"}`, `{"bucket":"other"}`, 1)), file, 403, "AccessDenied",
			`Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "other"]`},
		{"condition on a missing field", "/bkt", with(policyJSON(future, `{"key":"k"}`, `["starts-with","$Content-Type",""]`)), file, 403, "AccessDenied",
			`Invalid according to Policy: Policy Condition failed: ["starts-with", "$Content-Type", ""]`},
		{"content-type list", "/bkt", with(policyJSON(future, `{"key":"k"}`, `["starts-with","$Content-Type","image/"]`), [2]string{"Content-Type", "image/png,text/plain"}), file, 403, "AccessDenied", ""},
		{"extra field", "/bkt", with(good, [2]string{"X-Amz-Meta-Extra", "1"}), file, 403, "AccessDenied",
			"Invalid according to Policy: Extra input fields: X-Amz-Meta-Extra"},
		{"bad base64", "/bkt", replaceSigned(with(good), "%%%"), file, 400, "InvalidPolicyDocument", "Invalid Policy: invalid Base64 encoding."},
		{"bad JSON", "/bkt", replaceSigned(with(good), base64.StdEncoding.EncodeToString([]byte("{nope"))), file, 400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON."},
		{"no expiration", "/bkt", with(`{"conditions":[]}`), file, 400, "InvalidPolicyDocument", "Invalid Policy: Policy missing expiration."},
		{"EXPIRATION", "/bkt", with(`{"EXPIRATION":"` + future + `","conditions":[]}`), file, 400, "InvalidPolicyDocument", "Invalid Policy: Unexpected: 'expiration'"},
		{"two properties", "/bkt", with(policyJSON(future, `{"key":"k","acl":"private"}`)), file, 400, "InvalidPolicyDocument",
			"Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have exactly one property specified."},
		{"unknown operation", "/bkt", with(policyJSON(future, `["ends-with","$key","k"]`)), file, 400, "InvalidPolicyDocument",
			"Invalid Policy: Invalid Condition: unknown operation 'ends-with'."},
		{"too large", "/bkt", with(policyJSON(future, `{"key":"k"}`, `["content-length-range",0,2]`)), file, 400, "EntityTooLarge", ""},
		{"too small", "/bkt", with(policyJSON(future, `{"key":"k"}`, `["content-length-range",4,10]`)), file, 400, "EntityTooSmall",
			"Your proposed upload is smaller than the minimum allowed size"},
		{"bad acl", "/bkt", with(policyJSON(future, `{"key":"k"}`, `{"acl":"nope"}`), [2]string{"acl", "nope"}), file, 400, "InvalidArgument", ""},
		{"bad tagging", "/bkt", with(policyJSON(future, `{"key":"k"}`, `["starts-with","$tagging",""]`), [2]string{"tagging", "not-xml"}), file, 400, "MalformedXML", ""},
		{"field not a header value", "/bkt", with(policyJSON(future, `{"key":"k"}`, `["starts-with","$x-amz-meta-a",""]`), [2]string{"x-amz-meta-a", "x\r\ny"}), file, 400, "InvalidArgument", "Invalid form field: x-amz-meta-a"},
		{"field name not a header name", "/bkt", with(policyJSON(future, `{"key":"k"}`, `["starts-with","$x-amz-meta-a b",""]`), [2]string{"x-amz-meta-a b", "v"}), file, 400, "InvalidArgument", "Invalid form field: x-amz-meta-a b"},
		{"checksum field mismatch", "/bkt", with(policyJSON(future, `{"key":"k"}`, `["starts-with","$x-amz-checksum-crc32",""]`), [2]string{"x-amz-checksum-crc32", "AAAAAA=="}), file, 400, "BadDigest", ""},
		{"Content-MD5 field mismatch", "/bkt", with(policyJSON(future, `{"key":"k"}`, `["starts-with","$Content-MD5",""]`), [2]string{"Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg=="}), file, 400, "BadDigest", ""},
		{"unnamed file part", "/bkt", with(good), &postFile{name: "f", content: "abc", unnamed: true}, 400, "MalformedPOSTRequest", ""},
		{"fields too large", "/bkt", with(policyJSON(future, `{"key":"k"}`, `["starts-with","$x-ignore-pad",""]`), [2]string{"x-ignore-pad", strings.Repeat("p", 21<<10)}), file, 400,
			"MaxPostPreDataLengthExceeded", "Your POST request fields preceeding the upload file was too large."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, m := postServer(t, Options{})
			wantPostError(t, doPost(s, tt.target, tt.fields, tt.file), m, tt.status, tt.code, tt.message)
		})
	}
}

// replaceSigned swaps the policy for p and re-signs it, so that the
// policy itself, not its signature, is what is wrong.
func replaceSigned(fields [][2]string, p string) [][2]string {
	k := hmacSHA256([]byte("AWS4sk"), "20260304")
	for _, s := range []string{"us-east-1", "s3", "aws4_request"} {
		k = hmacSHA256(k, s)
	}
	out := make([][2]string, 0, len(fields))
	for _, f := range fields {
		switch f[0] {
		case "Policy":
			f[1] = p
		case "X-Amz-Signature":
			f[1] = hex.EncodeToString(hmacSHA256(k, p))
		}
		out = append(out, f)
	}
	return out
}

// TestPostObjectRouting: only an unsigned multipart POST to a bucket
// without a query is a form upload; every other request keeps its
// authentication and routing.
func TestPostObjectRouting(t *testing.T) {
	s, m := postServer(t, Options{})
	body, ct := formBody([][2]string{{"key", "k"}}, &postFile{name: "f", content: "x"})
	for _, target := range []string{"/bkt?delete", "/bkt/k", "/"} {
		r := newRequest(http.MethodPost, target, body)
		r.Header.Set("Content-Type", ct)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		wantPostError(t, w, m, http.StatusForbidden, "AccessDenied", "Access Denied")
	}
	// Unsigned and not a form: refused by authentication, as before.
	r := newRequest(http.MethodPost, "/bkt", "x")
	r.Header.Set("Content-Type", "text/plain")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	wantPostError(t, w, m, http.StatusForbidden, "AccessDenied", "Access Denied")
	// Signed and not a form: S3's answer to a bucket POST of another
	// enclosure type.
	w = signedPost(s, "x", "text/plain")
	wantPostError(t, w, m, http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
	if !strings.Contains(w.Body.String(), "<Condition>Bucket POST must be of the enclosure-type multipart/form-data</Condition>") {
		t.Errorf("no Condition: %s", w.Body)
	}
	// A signed form is still authenticated by its policy.
	w = signedPost(s, body, ct)
	wantPostError(t, w, m, http.StatusForbidden, "AccessDenied", "Access Denied")
	// A multipart Content-Type without a boundary.
	w = signedPost(s, "x", "multipart/form-data")
	wantPostError(t, w, m, http.StatusBadRequest, "MalformedPOSTRequest", "")
}

// signedPost sends a header-signed POST /bkt at the test servers' time.
func signedPost(s *Server, body, contentType string) *httptest.ResponseRecorder {
	r := newRequest(http.MethodPost, "/bkt", body)
	r.Header.Set("Content-Type", contentType)
	sigv4.Sign(r, "ak", "sk", "us-east-1", sigv4.UnsignedPayload, postNow)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}
