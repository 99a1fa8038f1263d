package s3api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Fuzz targets for POST Object: the policy document and the form, through
// the handler. The property is the one the form's signature promises:
// whatever is stored, a reference reading of the signed policy allows it
// (every condition holds, every field is covered, the size is in range,
// the policy has not expired), and a form whose signature is valid is
// never refused for its signature.

// refCondition is one condition of a policy as the reference reads it.
type refCondition struct {
	startsWith bool
	field      string // lowercase, without "$"; "" if the "$" is missing
	value      string
}

// refPolicy reads a policy document independently of parsePostPolicy:
// generic JSON, S3's documented condition forms. ok is false for a policy
// the reference cannot read; it is lenient where S3 is strict, since it
// only judges what the server accepted.
type refPolicy struct {
	expiration time.Time
	conds      []refCondition
	ranges     [][2]float64
}

func readRefPolicy(doc string) (*refPolicy, bool) {
	var top map[string]any
	if json.Unmarshal([]byte(doc), &top) != nil {
		return nil, false
	}
	exp, _ := top["expiration"].(string)
	t, err := time.Parse(time.RFC3339Nano, exp)
	conds, ok := top["conditions"].([]any)
	if err != nil || !ok {
		return nil, false
	}
	p := &refPolicy{expiration: t}
	for _, c := range conds {
		switch c := c.(type) {
		case map[string]any:
			for k, v := range c {
				s, ok := v.(string)
				if !ok {
					return nil, false
				}
				p.conds = append(p.conds, refCondition{field: strings.ToLower(k), value: s})
			}
		case []any:
			if len(c) != 3 {
				return nil, false
			}
			op, _ := c[0].(string)
			switch strings.ToLower(op) {
			case "eq", "starts-with":
				name, ok1 := c[1].(string)
				value, ok2 := c[2].(string)
				if !ok1 || !ok2 {
					return nil, false
				}
				field, found := strings.CutPrefix(name, "$")
				if !found {
					field = ""
				}
				p.conds = append(p.conds, refCondition{strings.EqualFold(op, "starts-with"), strings.ToLower(field), value})
			case "content-length-range":
				var b [2]float64
				for i, x := range c[1:] {
					switch x := x.(type) {
					case float64:
						b[i] = x
					case string:
						n, err := strconv.ParseFloat(x, 64)
						if err != nil {
							return nil, false
						}
						b[i] = n
					default:
						return nil, false
					}
				}
				p.ranges = append(p.ranges, b)
			default:
				return nil, false
			}
		default:
			return nil, false
		}
	}
	return p, true
}

// allows reports why the reference refuses a form the server stored, or
// "" if it allows it. fields are the form's fields in order (names as
// sent, ${filename} expanded); size is the file's.
func (p *refPolicy) allows(fields [][2]string, size int64, now time.Time) string {
	if !now.Before(p.expiration) {
		return "expired"
	}
	values := map[string]string{}
	for _, f := range fields {
		l := strings.ToLower(f[0])
		if old, ok := values[l]; ok {
			values[l] = old + "," + f[1]
		} else {
			values[l] = f[1]
		}
	}
	values["bucket"] = "bkt"
	covered := map[string]bool{}
	for _, c := range p.conds {
		v, ok := values[c.field]
		if c.field == "" || !ok {
			return "condition on a missing field " + c.field
		}
		match := v == c.value
		if c.startsWith {
			items := []string{v}
			if c.field == "content-type" {
				items = strings.Split(v, ",")
			}
			match = true
			for _, it := range items {
				match = match && strings.HasPrefix(strings.TrimLeft(it, " \t"), c.value)
			}
		}
		if !match {
			return "condition on " + c.field + " fails"
		}
		covered[c.field] = true
	}
	for l := range values {
		exempt := l == "policy" || l == "x-amz-signature" || l == "signature" || l == "awsaccesskeyid" || l == "bucket" ||
			strings.HasPrefix(l, "x-ignore-")
		if !covered[l] && !exempt {
			return "field " + l + " not covered"
		}
	}
	for _, r := range p.ranges {
		if float64(size) < r[0] || float64(size) > r[1] {
			return "size out of range"
		}
	}
	return ""
}

// fuzzFields splits "name=value" lines into form fields.
func fuzzFields(s string) [][2]string {
	var out [][2]string
	for line := range strings.SplitSeq(s, "\n") {
		if line == "" {
			continue
		}
		name, value, _ := strings.Cut(line, "=")
		out = append(out, [2]string{name, value})
	}
	return out
}

// rawFormFields reads the fields before the file of a raw form body, and
// the file's name and size; ok false if mime/multipart cannot.
func rawFormFields(body []byte, boundary string) (fields [][2]string, filename string, hasName bool, size int64, ok bool) {
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		p, err := mr.NextRawPart()
		if err != nil {
			return nil, "", false, 0, false
		}
		if strings.EqualFold(p.FormName(), "file") {
			n, err := io.Copy(io.Discard, p)
			if err != nil {
				return nil, "", false, 0, false
			}
			filename, hasName = postFileName(p)
			return fields, filename, hasName, n, true
		}
		v, err := io.ReadAll(p)
		if err != nil {
			return nil, "", false, 0, false
		}
		fields = append(fields, [2]string{p.FormName(), string(v)})
	}
}

const fuzzBoundary = "fuzzBoundary"

func FuzzPostObject(f *testing.F) {
	good := policyJSON(future, `["starts-with","$key","up/"]`, `["starts-with","$Content-Type","image/"]`, `["content-length-range",1,100]`)
	f.Add("key=up/${filename}\nContent-Type=image/png", good, []byte("hello"), false)
	f.Add("key=up/a\nContent-Type=image/png\nx-ignore-me=1", good, []byte(""), false)
	f.Add("key=up/a\nContent-Type=image/png,text/html", good, []byte("x"), false)
	f.Add("key=up/a\nContent-Type=image/png\nx-amz-meta-a=b", good, []byte("x"), false)
	f.Add("key=k\nsuccess_action_status=201", policyJSON(future, `{"key":"k"}`, `["eq","$success_action_status","201"]`), []byte("x"), false)
	f.Add("key=k\nacl=private", policyJSON(future, `{"key":"k"}`, `["starts-with","$acl",""]`, `["content-length-range","0","10"]`), []byte("x"), false)
	f.Add("key=k", policyJSON("2026-03-04T00:00:00Z", `{"key":"k"}`), []byte("x"), false)
	f.Add("key=k", `{"expiration":"`+future+`","conditions":[`+postConds+`,["eq","key","k"]]}`, []byte("x"), false)
	f.Add("key=k\ntagging=<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>",
		policyJSON(future, `{"key":"k"}`, `["starts-with","$tagging",""]`), []byte("x"), false)
	// Raw bodies: the form as bytes, signed (so that mutations of a
	// valid form are explored) and not.
	signed, _ := formBody(append([][2]string{{"key", "up/x"}, {"Content-Type", "image/gif"}}, signV4(good)...), &postFile{name: "x", content: "data"})
	f.Add("", "", []byte(strings.ReplaceAll(signed, mwBoundary(signed), fuzzBoundary)), true)
	f.Add("", "", []byte("--"+fuzzBoundary+"\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--"+fuzzBoundary+"--\r\n"), true)

	m := newMemBackend(nil, "bkt")
	s := testServer(m, Options{Now: func() time.Time { return postNow }})
	f.Fuzz(func(t *testing.T, fieldLines, policy string, file []byte, raw bool) {
		var body, ct string
		var fields [][2]string
		var filename string
		hasName, size, parsed := true, int64(len(file)), true
		validSig := false
		if raw {
			body, ct = string(file), "multipart/form-data; boundary="+fuzzBoundary
			fields, filename, hasName, size, parsed = rawFormFields(file, fuzzBoundary)
			if parsed {
				for _, f := range fields {
					if strings.EqualFold(f[0], "policy") {
						if b, err := base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(f[1])); err == nil {
							policy = string(b)
						}
					}
				}
			}
		} else {
			fields = append(fuzzFields(fieldLines), signV4(policy)...)
			validSig = true
			for _, f := range fields[:len(fields)-5] {
				if l := strings.ToLower(f[0]); postAuthFields[l] || l == "file" {
					validSig = false // the fuzzed fields add to the signed ones
				}
			}
			filename = "pic.png"
			body, ct = formBody(fields, &postFile{name: filename, content: string(file)})
		}
		clear(m.objects)
		clear(m.blobs)
		r := newRequest(http.MethodPost, "/bkt", body)
		r.Header.Set("Content-Type", ct)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)

		if w.Code >= 500 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		if w.Code >= 300 && w.Code != http.StatusSeeOther {
			var e errorBody
			if err := xml.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code == "" {
				t.Fatalf("%d without an S3 error: %q", w.Code, w.Body)
			}
			if validSig && slices.Contains([]string{"SignatureDoesNotMatch", "InvalidAccessKeyId"}, e.Code) {
				t.Fatalf("a valid signature refused: %s", w.Body)
			}
			if len(m.objects) != 0 {
				t.Fatalf("refused (%s) but stored %v", e.Code, m.objects)
			}
			return
		}
		// Stored: the signed policy must allow exactly this.
		if len(m.objects) != 1 || !parsed {
			t.Fatalf("%d: stored %d objects from a form that parsed %v", w.Code, len(m.objects), parsed)
		}
		if hasName {
			for i := range fields {
				if !strings.EqualFold(fields[i][0], "policy") {
					fields[i][1] = strings.ReplaceAll(fields[i][1], "${filename}", filename)
				}
			}
		}
		ref, ok := readRefPolicy(policy)
		if !ok {
			t.Fatalf("stored under a policy the reference cannot read: %q", policy)
		}
		if why := ref.allows(fields, size, postNow); why != "" {
			t.Fatalf("stored, but the policy does not allow it: %s\nfields %q\npolicy %s", why, fields, policy)
		}
		var key string
		for _, f := range fields {
			if strings.EqualFold(f[0], "key") {
				key = f[1]
				break
			}
		}
		obj, ok := m.objects["bkt/"+key]
		if !ok || obj.info.Size != size {
			t.Fatalf("stored %v, want key %q of %d bytes", m.objects, key, size)
		}
	})
}

// mwBoundary returns the boundary of a body written by formBody.
func mwBoundary(body string) string {
	line, _, _ := strings.Cut(body, "\r\n")
	return strings.TrimPrefix(line, "--")
}

func FuzzPostPolicy(f *testing.F) {
	for _, s := range []string{
		policyJSON(future, `["starts-with","$key","up/"]`, `["content-length-range",1,100]`),
		`{"expiration":"2026-03-05T00:00:00Z","conditions":[]}`,
		`{"expiration":"2026-03-05T00:00:00+01:00","conditions":[]}`,
		`{"expiration":"2026-03-05T00:00:00Z","conditions":[["content-length-range","5",-1]]}`,
		`{"expiration":"2026-03-05T00:00:00Z","conditions":[["content-length-range","x","10"]]}`,
		`{"expiration":"2026-03-05T00:00:00Z","conditions":[{"a":"b","c":"d"}]}`,
		`{"expiration":"2026-03-05T00:00:00Z","conditions":[["EQ","$Key","k"],["Starts-With","$x",""]],"extra":1}`,
		`{"EXPIRATION":"2026-03-05T00:00:00Z","conditions":[]}`,
		`{"expiration":"2026-03-05T00:00:00Z","conditions":[["eq","$k",null]]}`,
	} {
		f.Add(s, "key=up/a")
	}
	f.Fuzz(func(t *testing.T, doc, fieldLines string) {
		p, err := parsePostPolicy(base64.StdEncoding.EncodeToString([]byte(doc)))
		if err != nil {
			wantCodes(t, "parsePostPolicy", err, "InvalidPolicyDocument")
			return
		}
		if p.hasRange && (p.min < 0 || p.min > p.max) {
			t.Fatalf("content-length-range [%d, %d] accepted", p.min, p.max)
		}
		form := &postForm{values: map[string]string{}, names: map[string]string{}}
		fields := fuzzFields(fieldLines)
		for _, fl := range fields {
			form.add(fl[0], fl[1])
		}
		if err := p.check(form, "bkt"); err != nil {
			wantCodes(t, "check", err, "AccessDenied")
			return
		}
		ref, ok := readRefPolicy(doc)
		if !ok {
			t.Fatalf("a form passed a policy the reference cannot read: %q", doc)
		}
		ref.ranges = nil // no file here
		if why := ref.allows(fields, 0, ref.expiration.Add(-time.Second)); why != "" {
			t.Fatalf("form passed, but: %s\nfields %q\npolicy %s", why, fields, doc)
		}
	})
}
