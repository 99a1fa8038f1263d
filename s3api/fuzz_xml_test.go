package s3api

import (
	"bytes"
	"encoding/xml"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/strongboxdb/strongbox/objstore"
)

// Fuzz targets for every XML body Strongbox parses: CompleteMultipartUpload,
// Delete, Tagging (PutObjectTagging and POST Object's tagging field),
// CORSConfiguration and CreateBucketConfiguration. Each checks that a
// refusal is one of the S3 errors the operation gives, that what is
// accepted is within S3's limits, and that it survives a round trip
// through the document the server would write for it. The streaming
// decoders are also compared with encoding/xml's Unmarshal: whatever they
// accept, Unmarshal reads the same way.

// wantCodes fails unless err is an *APIError with one of codes.
func wantCodes(t *testing.T, what string, err error, codes ...string) {
	t.Helper()
	e, ok := err.(*APIError)
	if !ok || !slices.Contains(codes, e.Code) {
		t.Fatalf("%s: %v, want one of %v", what, err, codes)
	}
}

// completeDoc writes parts as a client writes its CompleteMultipartUpload.
func completeDoc(parts []objstore.CompletePart) []byte {
	type part struct {
		PartNumber int    `xml:"PartNumber"`
		ETag       string `xml:"ETag"`
		checksumFields
	}
	doc := struct {
		XMLName xml.Name `xml:"CompleteMultipartUpload"`
		Xmlns   string   `xml:"xmlns,attr"`
		Parts   []part   `xml:"Part"`
	}{Xmlns: s3Namespace}
	for _, p := range parts {
		doc.Parts = append(doc.Parts, part{p.PartNumber, p.ETag, checksumXML(p.Checksums)})
	}
	b, err := xml.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return b
}

func FuzzCompleteMultipartXML(f *testing.F) {
	part := func(n, etag, extra string) string {
		return "<Part><PartNumber>" + n + "</PartNumber><ETag>" + etag + "</ETag>" + extra + "</Part>"
	}
	for _, s := range []string{
		`<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
			part("1", `"aaa"`, "") + part(" 2 ", "&quot;bbb&quot;", "<ChecksumCRC32>AAAAAA==</ChecksumCRC32>") + "</CompleteMultipartUpload>",
		"<CompleteMultipartUpload><X/><!-- c -->" + part("10000", "e", "") + "</CompleteMultipartUpload>\n",
		"<CompleteMultipartUpload>" + part("0", "e", "") + "</CompleteMultipartUpload>",
		"<CompleteMultipartUpload>" + part("10001", "e", "") + "</CompleteMultipartUpload>",
		"<CompleteMultipartUpload>" + part("1", "e", "<ChecksumSHA1>a</ChecksumSHA1><ChecksumMD5>b</ChecksumMD5>") + "</CompleteMultipartUpload>",
		"<CompleteMultipartUpload>" + part("1", "e", "") + "</CompleteMultipartUpload><Again/>",
		"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>e</ETag><Part>" + strings.Repeat("<a>", 30),
		"<Parts>" + part("1", "e", "") + "</Parts>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		parts, err := decodeCompleteParts(bytes.NewReader(body))
		if err != nil {
			wantCodes(t, "decodeCompleteParts", err, "MalformedXML", "InvalidArgument")
			return
		}
		if len(parts) == 0 || len(parts) > objstore.MaxParts {
			t.Fatalf("%d parts accepted", len(parts))
		}
		for _, p := range parts {
			if p.PartNumber < 1 || p.PartNumber > objstore.MaxParts || len(p.Checksums) > 1 || strings.TrimSpace(p.ETag) != p.ETag {
				t.Fatalf("part accepted: %+v", p)
			}
		}
		var ref struct {
			XMLName xml.Name          `xml:"CompleteMultipartUpload"`
			Parts   []completePartXML `xml:"Part"`
		}
		if err := xml.Unmarshal(body, &ref); err != nil || len(ref.Parts) != len(parts) {
			t.Fatalf("accepted %d parts; Unmarshal: %d, %v", len(parts), len(ref.Parts), err)
		}
		for i, p := range ref.Parts {
			if n, _ := strconv.Atoi(strings.TrimSpace(*p.PartNumber)); n != parts[i].PartNumber ||
				strings.TrimSpace(*p.ETag) != parts[i].ETag || !maps.Equal(p.values(), parts[i].Checksums) {
				t.Fatalf("part %d: %+v, Unmarshal reads %+v", i, parts[i], p)
			}
		}
		again, err := decodeCompleteParts(bytes.NewReader(completeDoc(parts)))
		if err != nil || !reflect.DeepEqual(again, parts) {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, parts)
		}
	})
}

func FuzzDeleteObjectsXML(f *testing.F) {
	for _, s := range []string{
		`<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a</Key></Object><Object><Key>b/c</Key><VersionId>null</VersionId></Object><Quiet>true</Quiet></Delete>`,
		"<Delete><Quiet> false </Quiet><Object><Key></Key></Object></Delete>",
		"<Delete><Quiet>maybe</Quiet><Object><Key>a</Key></Object></Delete>",
		"<Delete><Object></Object></Delete>",
		"<Delete></Delete>",
		"<Remove><Object><Key>a</Key></Object></Remove>",
		"<Delete>" + strings.Repeat("<Object><Key>k</Key></Object>", 3) + "</Delete> <!-- -->",
		"<Delete><Object><Key>&lt;&#x1F600;&amp;</Key></Object></Delete>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := parseDeleteRequest(body)
		if err != nil {
			wantCodes(t, "parseDeleteRequest", err, "MalformedXML")
			return
		}
		if len(req.Objects) == 0 || len(req.Objects) > maxDeleteKeys {
			t.Fatalf("%d objects accepted", len(req.Objects))
		}
		var ref deleteRequest
		if err := xml.Unmarshal(body, &ref); err != nil {
			t.Fatalf("accepted; Unmarshal: %v", err)
		}
		ref.XMLName = req.XMLName
		if !reflect.DeepEqual(&ref, req) {
			t.Fatalf("parsed %+v, Unmarshal reads %+v", req, ref)
		}
		doc, err := xml.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseDeleteRequest(doc)
		if err != nil || !reflect.DeepEqual(again, req) {
			t.Fatalf("round trip of %s: %+v, %v", doc, again, err)
		}
	})
}

// tagTextRef is S3's tag alphabet: "letters (in any language), numbers,
// and spaces, plus the following characters: + - = . _ : / @".
var tagTextRef = regexp.MustCompile(`^[\p{L}\p{N}\p{Z}+\-=._:/@]*$`)

func utf16Units(s string) int { return len(utf16.Encode([]rune(s))) }

func FuzzTaggingXML(f *testing.F) {
	tag := func(k, v string) string { return "<Tag><Key>" + k + "</Key><Value>" + v + "</Value></Tag>" }
	for _, s := range []string{
		`<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>` + tag("a", "1") + tag("b c", "") + "</TagSet></Tagging>",
		"<Tagging><TagSet></TagSet></Tagging>",
		"<Tagging></Tagging>",
		"<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>",
		"<Tagging><TagSet>" + tag("aws:x", "1") + "</TagSet></Tagging>",
		"<Tagging><TagSet>" + tag("k", "1") + tag("k", "2") + "</TagSet></Tagging>",
		"<Tagging><TagSet>" + strings.Repeat(tag("k", "v"), 11) + "</TagSet></Tagging>",
		"<Tagging><TagSet>" + tag("日本", "𠀀+-=._:/@") + tag("k", "a&lt;b") + "</TagSet></Tagging>",
		"<Other><TagSet>" + tag("k", "v") + "</TagSet></Other>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		tags, err := parseTaggingDocument(body)
		postTags, postErr := parsePostTagging(string(body))
		if err != nil {
			wantCodes(t, "parseTaggingDocument", err, "MalformedXML", "InvalidTag", "BadRequest")
			if postErr != nil {
				wantCodes(t, "parsePostTagging", postErr, "MalformedXML", "InvalidTag", "BadRequest")
			}
			return
		}
		// POST Object's tagging field is the same document.
		if postErr != nil || !maps.Equal(postTags, tags) {
			t.Fatalf("PutObjectTagging reads %v, POST's tagging field %v, %v", tags, postTags, postErr)
		}
		if len(tags) > maxObjectTags {
			t.Fatalf("%d tags accepted", len(tags))
		}
		for k, v := range tags {
			if n := utf16Units(k); n < 1 || n > 128 || !tagTextRef.MatchString(k) || strings.HasPrefix(strings.ToLower(k), "aws:") ||
				utf16Units(v) > 256 || !tagTextRef.MatchString(v) {
				t.Fatalf("tag %q=%q accepted", k, v)
			}
		}
		// What GetObjectTagging writes reads back the same.
		out := tagging{Xmlns: s3Namespace, TagSet: &tagSet{}}
		for _, k := range slices.Sorted(maps.Keys(tags)) {
			out.TagSet.Tags = append(out.TagSet.Tags, tagXML{Key: &k, Value: new(tags[k])})
		}
		doc, err := xml.Marshal(out)
		if err != nil {
			t.Fatal(err)
		}
		if again, err := parseTaggingDocument(doc); err != nil || !maps.Equal(again, tags) {
			t.Fatalf("round trip of %s: %v, %v", doc, again, err)
		}
	})
}

func FuzzCORSXML(f *testing.F) {
	rule := func(inner string) string {
		return "<CORSConfiguration><CORSRule>" + inner + "</CORSRule></CORSConfiguration>"
	}
	for _, s := range []string{
		`<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><CORSRule><ID>r1</ID><AllowedOrigin>https://*.example.com</AllowedOrigin>` +
			"<AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod><AllowedHeader>x-amz-*</AllowedHeader>" +
			"<ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>3000</MaxAgeSeconds></CORSRule></CORSConfiguration>",
		rule("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod>"),
		rule("<AllowedOrigin>**</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"),
		rule("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>-1</MaxAgeSeconds>"),
		rule("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><ID>" + strings.Repeat("i", 256) + "</ID>"),
		rule("<AllowedMethod>GET</AllowedMethod>"),
		"<CORSConfiguration></CORSConfiguration>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rules, err := parseCORS(body)
		if err != nil {
			wantCodes(t, "parseCORS", err, "MalformedXML", "InvalidRequest", "InvalidArgument")
			return
		}
		if len(rules) == 0 || len(rules) > maxCORSRules {
			t.Fatalf("%d rules accepted", len(rules))
		}
		for _, r := range rules {
			ok := len(r.AllowedOrigins) > 0 && len(r.AllowedMethods) > 0 && len(r.ID) <= 255 && r.MaxAgeSeconds >= -1
			for _, m := range r.AllowedMethods {
				ok = ok && slices.Contains([]string{"GET", "PUT", "HEAD", "POST", "DELETE"}, m)
			}
			for _, p := range append(slices.Clone(r.AllowedOrigins), r.AllowedHeaders...) {
				ok = ok && strings.Count(p, "*") <= 1
			}
			if !ok {
				t.Fatalf("rule accepted: %+v", r)
			}
		}
		// What GetBucketCors writes reads back the same.
		out := corsConfiguration{Xmlns: s3Namespace}
		for _, r := range rules {
			x := corsXML{ID: r.ID, AllowedHeaders: r.AllowedHeaders, AllowedMethods: r.AllowedMethods, AllowedOrigins: r.AllowedOrigins, ExposeHeaders: r.ExposeHeaders}
			if r.MaxAgeSeconds >= 0 {
				x.MaxAgeSeconds = &r.MaxAgeSeconds
			}
			out.Rules = append(out.Rules, x)
		}
		doc, err := xml.Marshal(out)
		if err != nil {
			t.Fatal(err)
		}
		if again, err := parseCORS(doc); err != nil || !reflect.DeepEqual(again, rules) {
			t.Fatalf("round trip of %s: %+v, %v; want %+v", doc, again, err, rules)
		}
	})
}

func FuzzCreateBucketXML(f *testing.F) {
	for _, s := range []string{
		"",
		`<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>`,
		"<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>",
		"<CreateBucketConfiguration/>",
		"<Other/>",
		" ",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		err := checkCreateBucketConfiguration(body)
		var cfg struct {
			XMLName  xml.Name
			Location string `xml:"LocationConstraint"`
		}
		parsed := xml.Unmarshal(body, &cfg) == nil
		switch {
		case len(body) == 0:
			if err != nil {
				t.Fatalf("empty body: %v", err)
			}
		case !parsed || cfg.XMLName.Local != "CreateBucketConfiguration":
			wantCodes(t, "not a CreateBucketConfiguration", err, "MalformedXML")
		case cfg.Location == "us-east-1":
			wantCodes(t, "us-east-1", err, "InvalidLocationConstraint")
		case err != nil:
			t.Fatalf("location %q: %v", cfg.Location, err)
		}
	})
}
