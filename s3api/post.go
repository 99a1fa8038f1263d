package s3api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"golang.org/x/net/http/httpguts"

	"github.com/strongboxdb/strongbox/objstore"
	"github.com/strongboxdb/strongbox/s3api/sigv4"
)

// POST Object: a browser-based upload. An HTML form (multipart/form-data)
// is posted to the bucket's URL; its fields stand for PutObject's headers,
// its last part is the file, and a signed POST policy among the fields
// says what the form may contain. S3 references: "POST Object"
// (RESTObjectPOST), "Browser-Based Uploads Using POST" (sigv4-HTTPPOSTForms,
// sigv4-HTTPPOSTConstructPolicy, sigv4-post-example) and the SigV2 "HTML
// Forms" page; where the pages and S3's observed answers differ, the
// answers win.
//
// The request itself is unsigned, so ServeHTTP hands such a POST here
// before authentication, and nothing is trusted until the policy's
// signature verified. Only the fields before the file are held in memory,
// at most maxPostPreData bytes of them; the file streams through the same
// path as a PutObject body (readPutBody) and is written by
// Backend.PutObject like any other object.

// maxPostPreData is S3's limit on the form before the file, 20 KB
// (MaxPostPreDataLengthExceeded reports MaxPostPreDataLengthBytes 20480).
const maxPostPreData = 20 << 10

// postReadAhead is what mime/multipart may have read past the fields when
// it finds the file part (its peek buffer): the raw bytes read before the
// file may exceed the fields by that much.
const postReadAhead = 4 << 10

// postAuthFields are the form fields that authenticate the form: they
// are neither object headers nor, except policy and the signatures,
// exempt from the policy's conditions.
var postAuthFields = map[string]bool{
	"policy": true, "signature": true, "awsaccesskeyid": true,
	"x-amz-algorithm": true, "x-amz-credential": true, "x-amz-date": true,
	"x-amz-signature": true, "x-amz-security-token": true,
}

// postHeaderFields are the fields that set a standard header of the object
// (or, for Content-MD5, verify it), as the PutObject header does.
var postHeaderFields = []string{
	"cache-control", "content-disposition", "content-encoding", "content-language",
	"content-md5", "content-type", "expires",
}

// cannedACLs are the values S3 accepts in the acl field. Strongbox has no
// ACLs: a valid value is accepted and has no effect. (PutObject's x-amz-acl
// is not checked at all; the README names both.)
var cannedACLs = []string{
	"private", "public-read", "public-read-write", "aws-exec-read", "authenticated-read",
	"bucket-owner-read", "bucket-owner-full-control",
}

// formPost reports whether r is an unsigned POST Object request, a
// multipart/form-data POST without a query to a bucket (path style, or the
// root of a virtual-hosted bucket), and returns it rewritten to path style
// with its bucket set as the router would. Every other request, signed
// POST Object included, is authenticated and routed as usual.
func (s *Server) formPost(r *http.Request) (*http.Request, bool) {
	if r.Method != http.MethodPost || r.URL.RawQuery != "" || r.Header.Get("Authorization") != "" {
		return nil, false
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "multipart/form-data" {
		return nil, false
	}
	path := r.URL.EscapedPath()
	bucket := s.hostBucket(r)
	if bucket != "" {
		if path != "/" && path != "" {
			return nil, false
		}
		bucket = url.PathEscape(bucket)
	} else {
		bucket = strings.TrimSuffix(strings.TrimPrefix(path, "/"), "/")
		if bucket == "" || strings.Contains(bucket, "/") {
			return nil, false
		}
	}
	s.hostToPath(r)
	return mux.SetURLVars(r, map[string]string{"bucket": bucket}), true
}

// postObject serves POST Object. Every check that can fail happens before
// the object is proposed, so a refused form stores nothing.
//
// Until its policy signature is verified the form is anonymous work: it
// runs within the unauthenticated budget, and the fields before the file
// must arrive within PostFormTimeout in total. Then it changes to a slot
// of the signed gate, and the file is read like any signed body.
func (s *Server) postObject(w http.ResponseWriter, r *http.Request) {
	if !s.anon.enter(r.Context()) {
		s.shed(w, r, ErrSlowDown)
		return
	}
	anon, signed := true, false
	defer func() {
		if anon {
			s.anon.leave()
		}
		if signed {
			s.signed.leave()
		}
	}()
	pb, _ := r.Body.(*progressBody)
	if pb != nil {
		pb.capAt(time.Now().Add(s.opts.PostFormTimeout))
	}
	admit := func() error {
		if !s.signed.enter(r.Context()) {
			return ErrSlowDown
		}
		signed = true
		s.anon.leave()
		anon = false
		if pb != nil {
			pb.capAt(time.Time{})
		}
		return nil
	}
	bucket, _ := pathVars(r)
	res, err := s.readPost(r, bucket, admit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.opContext(r)
	defer cancel()
	info, err := s.backend.PutObject(ctx, res.req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.postAnswer(w, r, res, info)
}

// postResult is a verified form ready to be written.
type postResult struct {
	req  *objstore.PutRequest
	form *postForm
}

// readPost checks the form in S3's order (enclosure type, required
// fields, signature, policy document, expiration, conditions) and reads the
// file.
func (s *Server) readPost(r *http.Request, bucket string, admit func() error) (*postResult, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return nil, &detailedError{APIError: ErrPreconditionFailed, condition: "Bucket POST must be of the enclosure-type multipart/form-data"}
	}
	if params["boundary"] == "" {
		return nil, ErrMalformedPOSTRequest
	}
	// A missing bucket is refused before the form is read or its
	// signature checked, as S3 does: it tells an anonymous caller no more
	// than S3 would.
	ctx, cancel := s.opContext(r)
	_, err = s.backend.HeadBucket(ctx, bucket)
	cancel()
	if err != nil {
		return nil, err
	}
	lim := &preDataReader{r: r.Body, n: maxPostPreData + postReadAhead}
	form, file, err := readPostForm(multipart.NewReader(lim, params["boundary"]), lim)
	if err != nil {
		return nil, err
	}
	key, ok := form.get("key")
	if !ok || key == "" {
		return nil, missingPostField("key")
	}
	if file == nil {
		return nil, &detailedError{APIError: ErrPostFileCount, argName: "file", argValue: "0"}
	}
	if name, ok := postFileName(file); ok {
		form.expand(name)
		key, _ = form.get("key")
	}
	auth, policy, err := s.verifyPostAuth(form)
	if err != nil {
		return nil, err
	}
	// The form's signature authenticates its key, not the request, so
	// ServeHTTP could not check the key's rights.
	if err := s.allow(auth.AccessKey, RightWrite); err != nil {
		return nil, err
	}
	pol, err := parsePostPolicy(policy)
	if err != nil {
		return nil, err
	}
	if !s.opts.Now().Before(pol.expiration) {
		return nil, ErrAccessDenied.with("Invalid according to Policy: Policy expired.")
	}
	if err := pol.check(form, bucket); err != nil {
		return nil, err
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	header, tags, err := form.objectHeader()
	if err != nil {
		return nil, err
	}
	if err := admit(); err != nil {
		return nil, err
	}
	limit := s.opts.MaxObjectSize
	if pol.hasRange && pol.max < limit {
		limit = pol.max
	}
	req, err := s.readPutBody(r, putBody{header: header, body: file, size: -1, limit: limit, auth: auth}, bucket, key)
	if err != nil {
		if toAPIError(err) == ErrEntityTooLarge && limit < s.opts.MaxObjectSize {
			return nil, ErrEntityTooLarge.with("Your proposed upload exceeds the maximum allowed size")
		}
		return nil, err
	}
	// content-length-range holds the actual size, counted while the file
	// was stored, not anything the client declared: readPutBody enforced
	// the maximum (limit), the minimum is checked once the size is known.
	if pol.hasRange && req.Info.Size < pol.min {
		if req.Blob != nil {
			s.discardBlob(r, *req.Blob)
		}
		return nil, ErrEntityTooSmall
	}
	req.Info.Tags = tags
	return &postResult{req: req, form: form}, nil
}

// postResponse is the document of success_action_status 201.
type postResponse struct {
	XMLName  xml.Name `xml:"PostResponse"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
}

// postAnswer answers a stored upload as the form asked: a 303 to
// success_action_redirect (or the deprecated redirect) if it is an
// absolute http or https URL, else success_action_status 200 or 201 (with a
// PostResponse), else 204. Every answer carries ETag and Location.
func (s *Server) postAnswer(w http.ResponseWriter, r *http.Request, res *postResult, info objstore.ObjectInfo) {
	bucket, key := res.req.Bucket, res.req.Key
	etag := quoteETag(info.ETag)
	h := w.Header()
	h.Set("ETag", etag)
	setPutChecksums(h, info)
	// As in CompleteMultipartUpload's Location, S3 escapes the key's "/".
	location := s.objectLocation(r, bucket, key)
	h.Set("Location", location)

	redirect, ok := res.form.get("success_action_redirect")
	if !ok {
		redirect, _ = res.form.get("redirect")
	}
	if u, err := url.Parse(redirect); redirect != "" && err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		// In the order S3 adds them, after any query the URL has.
		q := "bucket=" + url.QueryEscape(bucket) + "&key=" + url.QueryEscape(key) + "&etag=" + url.QueryEscape(etag)
		if u.RawQuery != "" {
			q = u.RawQuery + "&" + q
		}
		u.RawQuery = q
		h.Set("Location", u.String())
		w.WriteHeader(http.StatusSeeOther)
		return
	}
	status, _ := res.form.get("success_action_status")
	switch status {
	case "200":
		w.WriteHeader(http.StatusOK)
	case "201":
		s.writeXML(w, http.StatusCreated, postResponse{Location: location, Bucket: bucket, Key: key, ETag: etag})
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// missingPostField is S3's answer to a form without a required field
// (the two spaces after the first sentence are S3's).
func missingPostField(name string) error {
	return &detailedError{
		APIError: ErrInvalidArgument.with("Bucket POST must contain a field named '" + name + "'.  If it is specified, please check the order of the fields."),
		argName:  name,
	}
}

// postForm holds the fields before the file. Names are matched
// case-insensitively, as S3 does; a repeated field's values are joined
// with commas, which is how the policy must spell them.
type postForm struct {
	values map[string]string // by lowercase name
	names  map[string]string // lowercase name → name as first sent
	order  []string          // lowercase names in the order first sent
}

func (f *postForm) get(name string) (string, bool) {
	v, ok := f.values[name]
	return v, ok
}

func (f *postForm) add(name, value string) {
	l := strings.ToLower(name)
	if old, ok := f.values[l]; ok {
		f.values[l] = old + "," + value
		return
	}
	f.values[l] = value
	f.names[l] = name
	f.order = append(f.order, l)
}

// expand replaces ${filename} in every field with the file's name, before
// the policy is checked (conditions match the expanded values).
func (f *postForm) expand(filename string) {
	for l, v := range f.values {
		if l != "policy" {
			f.values[l] = strings.ReplaceAll(v, "${filename}", filename)
		}
	}
}

// objectHeader returns the fields that describe the object as the
// PutObject headers they stand for (read by readPutBody, so both
// operations validate them alike), and the tags of the tagging field.
func (f *postForm) objectHeader() (http.Header, map[string]string, error) {
	h := http.Header{}
	var tags map[string]string
	for _, l := range f.order {
		v := f.values[l]
		// A field becomes a header only if it could have been one: a
		// name or value net/http would drop or rewrite on GET would make
		// the object served differ from the one stored.
		if (slices.Contains(postHeaderFields, l) || strings.HasPrefix(l, "x-amz-")) &&
			(!httpguts.ValidHeaderFieldName(l) || !httpguts.ValidHeaderFieldValue(v)) {
			return nil, nil, ErrInvalidArgument.with("Invalid form field: " + f.names[l])
		}
		switch {
		case slices.Contains(postHeaderFields, l):
			h.Set(l, v)
		case l == "acl":
			if !slices.Contains(cannedACLs, v) {
				return nil, nil, ErrInvalidArgument
			}
		case l == "tagging":
			var err error
			if tags, err = parsePostTagging(v); err != nil {
				return nil, nil, err
			}
		case strings.HasPrefix(l, "x-amz-") && !postAuthFields[l] && l != "x-amz-tagging":
			h.Set(l, v)
		}
	}
	return h, tags, nil
}

// parsePostTagging reads the tagging field, a Tagging XML document (not
// the URL-encoded form of the x-amz-tagging header). A document of another
// element stores no tags, as S3 does.
func parsePostTagging(v string) (map[string]string, error) {
	var doc struct {
		TagSet *tagSet `xml:"TagSet"`
	}
	if err := xml.Unmarshal([]byte(v), &doc); err != nil {
		return nil, ErrMalformedXML
	}
	if doc.TagSet == nil {
		return nil, nil
	}
	return doc.TagSet.tags()
}

// preDataReader bounds the raw bytes read before the file part: the form
// fields, their part headers and boundaries (which multipart would
// otherwise accept up to megabytes of). Once the file part is found, the
// bound is lifted.
type preDataReader struct {
	r       io.Reader
	n       int64
	lifted  bool
	tripped bool // the bound was hit
}

var errPreData = errors.New("s3api: POST fields before the file too large")

func (p *preDataReader) Read(b []byte) (int, error) {
	if p.lifted {
		return p.r.Read(b)
	}
	if p.n <= 0 {
		p.tripped = true
		return 0, errPreData
	}
	if int64(len(b)) > p.n {
		b = b[:p.n]
	}
	n, err := p.r.Read(b)
	p.n -= int64(n)
	return n, err
}

// readPostForm reads the fields up to the part named file, which it
// returns unread (nil if the form has none). Fields after the file are
// never read: S3 ignores them.
func readPostForm(mr *multipart.Reader, lim *preDataReader) (*postForm, *multipart.Part, error) {
	form := &postForm{values: map[string]string{}, names: map[string]string{}}
	used := 0
	for {
		// NextRawPart: NextPart would silently decode a part sent as
		// quoted-printable, and the object would not be the bytes the
		// checksums and content-length-range were meant for.
		part, err := mr.NextRawPart()
		if err == io.EOF {
			return form, nil, nil
		}
		if err != nil {
			return nil, nil, formReadError(err, lim)
		}
		// FormName is empty unless the part is form-data with a name:
		// such a part is neither a field nor the file, and S3 refuses
		// the form rather than guess.
		name := part.FormName()
		if name == "" {
			return nil, nil, ErrMalformedPOSTRequest
		}
		if strings.EqualFold(name, "file") {
			lim.lifted = true
			return form, part, nil
		}
		v, err := io.ReadAll(io.LimitReader(part, int64(maxPostPreData-used+1)))
		if err != nil {
			return nil, nil, formReadError(err, lim)
		}
		used += len(name) + len(v)
		if used > maxPostPreData {
			return nil, nil, ErrMaxPostPreDataLength
		}
		form.add(name, string(v))
	}
}

// formReadError names why the fields before the file could not be read:
// too many of them, a client that stopped sending (PostFormTimeout or the
// body's idle deadline), or a form that does not parse.
func formReadError(err error, lim *preDataReader) error {
	switch {
	case lim.tripped:
		return ErrMaxPostPreDataLength
	case errors.Is(err, os.ErrDeadlineExceeded):
		return ErrRequestTimeout
	}
	return ErrMalformedPOSTRequest
}

// postFileName returns the name the client gave the file, without any
// directory (after the last / or \), and false if the part has no
// filename parameter: S3 then leaves ${filename} as it is.
func postFileName(p *multipart.Part) (string, bool) {
	_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		return "", false
	}
	name, ok := params["filename"]
	if !ok {
		return "", false
	}
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	return name, true
}

// verifyPostAuth verifies the form's signature (SigV4 if any of its
// fields is present, else SigV2) and returns the policy it covers. A form
// with neither is anonymous, which only a publicly writable bucket
// accepts, and Strongbox has none.
func (s *Server) verifyPostAuth(f *postForm) (*sigv4.Auth, string, error) {
	v4 := false
	for _, n := range []string{"x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"} {
		if _, ok := f.get(n); ok {
			v4 = true
		}
	}
	_, hasAK := f.get("awsaccesskeyid")
	_, hasSig := f.get("signature")
	// S3 names the first missing field in this order, as it spells it.
	require := func(names ...string) error {
		for _, n := range names {
			if v, ok := f.get(strings.ToLower(n)); !ok || v == "" {
				return missingPostField(n)
			}
		}
		return nil
	}
	policy, _ := f.get("policy")
	switch {
	case v4:
		if err := require("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Signature", "Policy"); err != nil {
			return nil, "", err
		}
		if alg, _ := f.get("x-amz-algorithm"); alg != "AWS4-HMAC-SHA256" {
			return nil, "", &detailedError{APIError: ErrInvalidArgument.with("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\""), argName: "X-Amz-Algorithm", argValue: alg}
		}
		date, _ := f.get("x-amz-date")
		if _, ok := sigv4.ParseAmzDate(date); !ok {
			// S3's spelling.
			return nil, "", &detailedError{APIError: ErrInvalidArgument.with("X-Amz-Date must be formated via ISO8601 Long format"), argName: "X-Amz-Date", argValue: date}
		}
		cred, _ := f.get("x-amz-credential")
		sig, _ := f.get("x-amz-signature")
		a, err := s.auth.VerifyPostV4(policy, cred, sig)
		return a, policy, err
	case hasAK || hasSig:
		if err := require("AWSAccessKeyId", "Signature", "Policy"); err != nil {
			return nil, "", err
		}
		ak, _ := f.get("awsaccesskeyid")
		sig, _ := f.get("signature")
		a, err := s.auth.VerifyPostV2(policy, ak, sig)
		return a, policy, err
	}
	return nil, "", ErrAccessDenied
}

// postPolicy is a decoded POST policy.
type postPolicy struct {
	expiration time.Time
	conds      []postCondition
	// The content-length-range, if any (several intersect).
	hasRange bool
	min, max int64
}

// postCondition is one eq or starts-with condition.
type postCondition struct {
	startsWith bool
	// field is the lowercase name without "$"; "" if the policy omitted
	// the "$", which makes the condition fail.
	field string
	value string
	// text is the condition as S3 prints it when it fails.
	text string
	// fails marks a condition that holds for no form (a content-length
	// bound that is not a number).
	fails bool
}

func invalidPolicy(detail string) error {
	return ErrInvalidPolicyDocument.with("Invalid Policy: " + detail)
}

// parsePostPolicy decodes the base64 JSON policy. Every malformation is
// 400 InvalidPolicyDocument with S3's "Invalid Policy: ..." messages; the
// top-level names are case-sensitive (S3 refuses "EXPIRATION").
func parsePostPolicy(b64 string) (*postPolicy, error) {
	// Some encoders wrap base64 lines; the signature covered them as sent.
	raw, err := base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(b64))
	if err != nil {
		return nil, invalidPolicy("invalid Base64 encoding.")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, invalidPolicy("Invalid JSON.")
	}
	for name := range top {
		if name != "expiration" && name != "conditions" {
			return nil, invalidPolicy("Unexpected: '" + strings.ToLower(name) + "'")
		}
	}
	expRaw, ok := top["expiration"]
	if !ok {
		return nil, invalidPolicy("Policy missing expiration.")
	}
	condRaw, ok := top["conditions"]
	if !ok {
		return nil, invalidPolicy("Policy missing conditions.")
	}
	p := &postPolicy{min: 0, max: -1}
	var exp string
	if err := json.Unmarshal(expRaw, &exp); err != nil {
		return nil, invalidPolicy("Invalid 'expiration' value: '" + string(expRaw) + "'")
	}
	// ISO 8601 in UTC, with or without fractional seconds; S3 refuses an
	// offset and a space for the T.
	if p.expiration, err = time.Parse(time.RFC3339Nano, exp); err != nil || !strings.HasSuffix(exp, "Z") {
		return nil, invalidPolicy("Invalid 'expiration' value: '" + exp + "'")
	}
	var conds []json.RawMessage
	if err := json.Unmarshal(condRaw, &conds); err != nil || conds == nil {
		return nil, invalidPolicy("Invalid 'conditions' value: must be a List.")
	}
	for _, c := range conds {
		if err := p.addCondition(c); err != nil {
			return nil, err
		}
	}
	if p.hasRange && p.min > p.max {
		return nil, invalidPolicy("Invalid content-length-range: the minimum exceeds the maximum.")
	}
	return p, nil
}

func (p *postPolicy) addCondition(c json.RawMessage) error {
	c = bytes.TrimSpace(c)
	switch {
	case len(c) > 0 && c[0] == '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(c, &obj); err != nil {
			return invalidPolicy("Invalid JSON.")
		}
		if len(obj) != 1 {
			return invalidPolicy("Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.")
		}
		for name, rv := range obj {
			var v string
			if err := json.Unmarshal(rv, &v); err != nil {
				if bytes.Equal(bytes.TrimSpace(rv), []byte("null")) {
					return invalidPolicy("Invalid JSON.")
				}
				return invalidPolicy("Invalid Simple-Condition: value must be a string.")
			}
			// S3 prints a simple condition as the eq it stands for.
			p.conds = append(p.conds, postCondition{
				field: strings.ToLower(name), value: v,
				text: "[\"eq\", " + jsonString("$"+name) + ", " + jsonString(v) + "]",
			})
		}
		return nil
	case len(c) > 0 && c[0] == '[':
		var items []json.RawMessage
		if err := json.Unmarshal(c, &items); err != nil {
			return invalidPolicy("Invalid JSON.")
		}
		if len(items) == 0 {
			return invalidPolicy("Invalid Condition: missing operation identifier.")
		}
		var op string
		if err := json.Unmarshal(items[0], &op); err != nil {
			return invalidPolicy("Invalid Condition: missing operation identifier.")
		}
		texts := make([]string, len(items))
		for i, it := range items {
			var b bytes.Buffer
			_ = json.Compact(&b, it) // it parsed above
			texts[i] = b.String()
		}
		text := "[" + strings.Join(texts, ", ") + "]"
		switch lop := strings.ToLower(op); lop {
		case "eq", "starts-with":
			if len(items) != 3 {
				return invalidPolicy("Invalid " + op + ": wrong number of arguments.")
			}
			var name, v string
			if json.Unmarshal(items[1], &name) != nil || json.Unmarshal(items[2], &v) != nil {
				return invalidPolicy("Invalid JSON.")
			}
			field, ok := strings.CutPrefix(name, "$")
			if !ok {
				field = ""
			}
			p.conds = append(p.conds, postCondition{startsWith: lop == "starts-with", field: strings.ToLower(field), value: v, text: text})
		case "content-length-range":
			if len(items) != 3 {
				return invalidPolicy("Invalid " + op + ": wrong number of arguments.")
			}
			lo, okLo, err := rangeBound(items[1])
			if err != nil {
				return err
			}
			hi, okHi, err := rangeBound(items[2])
			if err != nil {
				return err
			}
			if !okLo || !okHi {
				p.conds = append(p.conds, postCondition{fails: true, text: text})
				return nil
			}
			if lo < 0 || hi < 0 {
				return invalidPolicy("Invalid content-length-range: the bounds must not be negative.")
			}
			if !p.hasRange {
				p.hasRange, p.min, p.max = true, lo, hi
			} else {
				p.min, p.max = max(p.min, lo), min(p.max, hi)
			}
		default:
			return invalidPolicy("Invalid Condition: unknown operation '" + op + "'.")
		}
		return nil
	}
	return invalidPolicy("Invalid condition test: must be a List or Object.")
}

// rangeBound reads a content-length-range bound: an integer, or a string
// holding one (S3 accepts both). A string that is not a number makes the
// condition fail (ok false); any other JSON is refused.
func rangeBound(raw json.RawMessage) (n int64, ok bool, err error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil, nil
	}
	n, perr := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
	if perr != nil {
		return 0, false, invalidPolicy("Invalid JSON.")
	}
	return n, true, nil
}

func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// check applies the conditions to the form (bucket is the URL's, which
// a bucket condition matches), then requires every field to be covered by
// one, except the policy, the signatures, the file and x-ignore-* fields.
// The other authentication fields (postAuthFields: x-amz-credential,
// x-amz-date, ...) must be covered, as S3 requires of a SigV4 policy.
// Values are compared case-sensitively; a condition on a missing field
// fails, even starts-with "".
func (p *postPolicy) check(f *postForm, bucket string) error {
	covered := map[string]bool{}
	for _, c := range p.conds {
		v, ok := f.get(c.field)
		if c.field == "bucket" {
			v, ok = bucket, true
		}
		if c.fails || c.field == "" || !ok || !c.matches(v) {
			return ErrAccessDenied.with("Invalid according to Policy: Policy Condition failed: " + c.text)
		}
		covered[c.field] = true
	}
	for _, l := range f.order {
		switch {
		case covered[l], strings.HasPrefix(l, "x-ignore-"):
		case l == "policy", l == "x-amz-signature", l == "signature", l == "awsaccesskeyid":
		default:
			return ErrAccessDenied.with("Invalid according to Policy: Extra input fields: " + f.names[l])
		}
	}
	return nil
}

// matches applies one condition to a value. For Content-Type, starts-with
// treats a comma-separated value as a list whose every item must match.
func (c postCondition) matches(v string) bool {
	if !c.startsWith {
		return v == c.value
	}
	if c.field != "content-type" {
		return strings.HasPrefix(v, c.value)
	}
	for _, item := range strings.Split(v, ",") {
		if !strings.HasPrefix(strings.TrimSpace(item), c.value) {
			return false
		}
	}
	return true
}
