package server_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

const corsNotAllowed = "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec."

// testCORS covers Put/Get/DeleteBucketCors, unauthenticated preflights and
// the CORS headers of actual requests, through the SDK where it can send
// the request and raw HTTP (as a browser would) where it cannot.
func testCORS(t *testing.T, c *testCluster) {
	cl := func(i int) *s3.Client { return c.client(i % 3) }
	const bkt, plain = "cors-bkt", "cors-plain"
	mustCreateBucket(t, cl(0), bkt)
	mustCreateBucket(t, cl(1), plain)
	mustPut(t, cl(2), bkt, "obj", "cors body")

	corsOf := func(t *testing.T, i int) string {
		t.Helper()
		out, err := cl(i).GetBucketCors(ctxT(t), &s3.GetBucketCorsInput{Bucket: aws.String(bkt)})
		if apiCode(err) == "NoSuchCORSConfiguration" {
			return "none"
		}
		if err != nil {
			t.Fatal(err)
		}
		var sb strings.Builder
		for _, r := range out.CORSRules {
			fmt.Fprintf(&sb, "id=%s origins=%v methods=%v headers=%v expose=%v maxage=%v\n", aws.ToString(r.ID), r.AllowedOrigins,
				r.AllowedMethods, r.AllowedHeaders, r.ExposeHeaders, aws.ToInt32(r.MaxAgeSeconds))
		}
		return sb.String()
	}
	preflight := func(t *testing.T, i int, path, origin, method, headers string) rawResponse {
		t.Helper()
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		if method != "" {
			h.Set("Access-Control-Request-Method", method)
		}
		if headers != "" {
			h.Set("Access-Control-Request-Headers", headers)
		}
		return c.raw(t, i%3, http.MethodOptions, path, "", h, false)
	}

	t.Run("NoConfiguration", func(t *testing.T) {
		_, err := cl(0).GetBucketCors(ctxT(t), &s3.GetBucketCorsInput{Bucket: aws.String(bkt)})
		if apiCode(err) != "NoSuchCORSConfiguration" || !isHTTPStatus(err, 404) {
			t.Fatalf("GetBucketCors: %v, want 404 NoSuchCORSConfiguration", err)
		}
		resp := preflight(t, 1, "/"+bkt+"/obj", "http://app.example.com", "GET", "")
		wantS3Error(t, "preflight without configuration", resp, 403, "AccessForbidden")
		if !strings.Contains(resp.Body, "CORSResponse: CORS is not enabled for this bucket.") || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("preflight without configuration: %s", resp.Body)
		}
	})

	rules := []types.CORSRule{
		{
			ID:             aws.String("app"),
			AllowedOrigins: []string{"http://app.example.com", "http://*.dev.example.com"},
			AllowedMethods: []string{"GET", "PUT", "HEAD"},
			AllowedHeaders: []string{"Content-Type", "x-amz-*"},
			ExposeHeaders:  []string{"ETag", "x-amz-request-id"},
			MaxAgeSeconds:  aws.Int32(3000),
		},
		{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET"}},
	}

	t.Run("PutGet", func(t *testing.T) {
		if _, err := cl(0).PutBucketCors(ctxT(t), &s3.PutBucketCorsInput{Bucket: aws.String(bkt), CORSConfiguration: &types.CORSConfiguration{CORSRules: rules}}); err != nil {
			t.Fatal(err)
		}
		want := "id=app origins=[http://app.example.com http://*.dev.example.com] methods=[GET PUT HEAD] headers=[Content-Type x-amz-*] expose=[ETag x-amz-request-id] maxage=3000\n" +
			"id= origins=[*] methods=[GET] headers=[] expose=[] maxage=0\n"
		if got := corsOf(t, 1); got != want {
			t.Fatalf("GetBucketCors:\n%s\nwant\n%s", got, want)
		}
	})

	t.Run("Preflight", func(t *testing.T) {
		resp := preflight(t, 0, "/"+bkt+"/obj", "http://app.example.com", "PUT", "Content-Type, X-Amz-Meta-Color")
		if resp.Status != 200 || resp.Body != "" {
			t.Fatalf("allowed preflight: %d %s", resp.Status, resp.Body)
		}
		for name, want := range map[string]string{
			"Access-Control-Allow-Origin":      "http://app.example.com",
			"Access-Control-Allow-Credentials": "true",
			"Access-Control-Allow-Methods":     "GET, PUT, HEAD",
			"Access-Control-Allow-Headers":     "content-type, x-amz-meta-color",
			"Access-Control-Expose-Headers":    "ETag, x-amz-request-id",
			"Access-Control-Max-Age":           "3000",
			"Vary":                             "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
		} {
			if got := resp.Header.Get(name); got != want {
				t.Errorf("%s: %q, want %q", name, got, want)
			}
		}
		// A wildcard origin pattern; the bucket URL itself.
		resp = preflight(t, 1, "/"+bkt, "http://feature-x.dev.example.com", "HEAD", "")
		if resp.Status != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "http://feature-x.dev.example.com" || resp.Header.Get("Access-Control-Allow-Headers") != "" {
			t.Fatalf("wildcard origin: %d %v", resp.Status, resp.Header)
		}
		// The "*" rule answers "*" and no credentials.
		resp = preflight(t, 2, "/"+bkt+"/any/key", "https://elsewhere.org", "GET", "")
		if resp.Status != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Access-Control-Allow-Credentials") != "" ||
			resp.Header.Get("Access-Control-Allow-Methods") != "GET" || resp.Header.Get("Access-Control-Max-Age") != "" {
			t.Fatalf("* origin: %d %v", resp.Status, resp.Header)
		}
		refused := []struct{ name, origin, method, headers string }{
			{"method no rule allows", "https://elsewhere.org", "PUT", ""},
			{"method of no rule for this origin", "http://app.example.com", "DELETE", ""},
			{"header not allowed", "http://app.example.com", "PUT", "content-type,authorization"},
			{"header on the * rule", "https://elsewhere.org", "GET", "x-amz-date"},
			{"origin with a trailing slash matches only *", "http://app.example.com/", "PUT", ""},
			{"other scheme", "https://app.example.com", "PUT", ""},
		}
		for i, tt := range refused {
			resp := preflight(t, i, "/"+bkt+"/obj", tt.origin, tt.method, tt.headers)
			wantS3Error(t, tt.name, resp, 403, "AccessForbidden")
			if !strings.Contains(resp.Body, corsNotAllowed) || resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Fatalf("%s: %s %v", tt.name, resp.Body, resp.Header)
			}
		}
		resp = preflight(t, 0, "/"+bkt+"/obj", "", "GET", "")
		wantS3Error(t, "no Origin", resp, 400, "BadRequest")
		if !strings.Contains(resp.Body, "Insufficient information. Origin request header needed.") {
			t.Fatalf("no Origin: %s", resp.Body)
		}
		resp = preflight(t, 1, "/"+bkt+"/obj", "http://app.example.com", "PATCH", "")
		wantS3Error(t, "unsupported method", resp, 400, "BadRequest")
		if !strings.Contains(resp.Body, "Invalid Access-Control-Request-Method: PATCH") {
			t.Fatalf("unsupported method: %s", resp.Body)
		}
		wantS3Error(t, "bucket without CORS", preflight(t, 2, "/"+plain+"/obj", "http://app.example.com", "GET", ""), 403, "AccessForbidden")
		resp = preflight(t, 0, "/no-such-bkt/obj", "http://app.example.com", "GET", "")
		wantS3Error(t, "missing bucket", resp, 403, "AccessForbidden")
		if !strings.Contains(resp.Body, "CORSResponse: Bucket not found") {
			t.Fatalf("missing bucket: %s", resp.Body)
		}
	})

	t.Run("ActualRequests", func(t *testing.T) {
		withOrigin := func(origin string) func(*s3.Options) {
			return func(o *s3.Options) {
				o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue("Origin", origin))
			}
		}
		get, err := cl(0).GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String(bkt), Key: aws.String("obj")}, withOrigin("http://app.example.com"))
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, get.Body)
		h := awsmiddleware.GetRawResponse(get.ResultMetadata).(*smithyhttp.Response).Header
		if h.Get("Access-Control-Allow-Origin") != "http://app.example.com" || h.Get("Access-Control-Allow-Credentials") != "true" ||
			h.Get("Access-Control-Expose-Headers") != "ETag, x-amz-request-id" || h.Get("Access-Control-Allow-Methods") != "GET, PUT, HEAD" ||
			h.Get("Access-Control-Allow-Headers") != "" || h.Get("Vary") == "" {
			t.Fatalf("GET from an allowed origin: %v", h)
		}
		// DELETE is allowed by no rule: served, without CORS headers.
		mustPut(t, cl(1), bkt, "deleteme", "x")
		del, err := cl(1).DeleteObject(ctxT(t), &s3.DeleteObjectInput{Bucket: aws.String(bkt), Key: aws.String("deleteme")}, withOrigin("http://app.example.com"))
		if err != nil {
			t.Fatal(err)
		}
		if h := awsmiddleware.GetRawResponse(del.ResultMetadata).(*smithyhttp.Response).Header; h.Get("Access-Control-Allow-Origin") != "" || h.Get("Vary") != "" {
			t.Fatalf("DELETE from a disallowed method: %v", h)
		}
		// No Origin, no CORS headers.
		plainGet := c.raw(t, 2, http.MethodGet, "/"+bkt+"/obj", "", nil, true)
		if plainGet.Status != 200 || plainGet.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("GET without Origin: %d %v", plainGet.Status, plainGet.Header)
		}
		// An error response carries them too, so a browser can read it.
		resp := c.raw(t, 0, http.MethodGet, "/"+bkt+"/missing", "", http.Header{"Origin": {"https://elsewhere.org"}}, true)
		if resp.Status != 404 || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("404 from an allowed origin: %d %v", resp.Status, resp.Header)
		}
		resp = c.raw(t, 1, http.MethodGet, "/"+bkt+"/obj", "", http.Header{"Origin": {"https://elsewhere.org"}}, false)
		if resp.Status != 403 || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("anonymous GET from an allowed origin: %d %v", resp.Status, resp.Header)
		}
		// A browser fetching a presigned URL.
		ps, err := s3.NewPresignClient(cl(2)).PresignGetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String(bkt), Key: aws.String("obj")}, s3.WithPresignExpires(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(ctxT(t), http.MethodGet, ps.URL, nil)
		req.Header.Set("Origin", "http://preview.dev.example.com")
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != 200 || string(body) != "cors body" || r.Header.Get("Access-Control-Allow-Origin") != "http://preview.dev.example.com" {
			t.Fatalf("presigned GET with Origin: %d %q %v", r.StatusCode, body, r.Header)
		}
	})

	t.Run("InvalidConfigurations", func(t *testing.T) {
		before := corsOf(t, 0)
		many := make([]types.CORSRule, 101)
		for i := range many {
			many[i] = types.CORSRule{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET"}}
		}
		cases := []struct {
			name  string
			rules []types.CORSRule
			code  string
		}{
			{"unsupported method", []types.CORSRule{{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"PATCH"}}}, "InvalidRequest"},
			{"two wildcards in an origin", []types.CORSRule{{AllowedOrigins: []string{"http://*.*.example.com"}, AllowedMethods: []string{"GET"}}}, "InvalidRequest"},
			{"two wildcards in a header", []types.CORSRule{{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET"}, AllowedHeaders: []string{"x-*-*"}}}, "InvalidRequest"},
			{"101 rules", many, "MalformedXML"},
			{"no rules", []types.CORSRule{}, "MalformedXML"},
		}
		for i, tt := range cases {
			_, err := cl(i).PutBucketCors(ctxT(t), &s3.PutBucketCorsInput{Bucket: aws.String(bkt), CORSConfiguration: &types.CORSConfiguration{CORSRules: tt.rules}})
			if apiCode(err) != tt.code || !isHTTPStatus(err, 400) {
				t.Fatalf("%s: %v, want 400 %s", tt.name, err, tt.code)
			}
			if after := corsOf(t, i+1); after != before {
				t.Fatalf("%s changed the configuration:\n%s", tt.name, after)
			}
		}
		for i, doc := range []string{
			"<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>",
			"<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>",
			"<CORSConfiguration><CORSRule>",
		} {
			wantS3Error(t, doc, c.raw(t, i, http.MethodPut, "/"+bkt+"?cors", doc, md5Header(doc), true), 400, "MalformedXML")
		}
		good := "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>"
		resp := c.raw(t, 1, http.MethodPut, "/"+bkt+"?cors", good, nil, true)
		wantS3Error(t, "no digest", resp, 400, "InvalidRequest")
		if after := corsOf(t, 2); after != before {
			t.Fatalf("refused documents changed the configuration:\n%s", after)
		}
		_, err := cl(0).PutBucketCors(ctxT(t), &s3.PutBucketCorsInput{Bucket: aws.String("no-such-bkt"), CORSConfiguration: &types.CORSConfiguration{CORSRules: rules}})
		if apiCode(err) != "NoSuchBucket" || !isHTTPStatus(err, 404) {
			t.Fatalf("PutBucketCors on a missing bucket: %v", err)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		for i := range 2 { // deleting twice succeeds, as in S3
			if _, err := cl(i).DeleteBucketCors(ctxT(t), &s3.DeleteBucketCorsInput{Bucket: aws.String(bkt)}); err != nil {
				t.Fatalf("DeleteBucketCors %d: %v", i, err)
			}
		}
		if got := corsOf(t, 2); got != "none" {
			t.Fatalf("after delete: %s", got)
		}
		wantS3Error(t, "preflight after delete", preflight(t, 0, "/"+bkt+"/obj", "http://app.example.com", "GET", ""), 403, "AccessForbidden")
		// The bucket is untouched.
		if got := mustGet(t, cl(1), bkt, "obj"); got != "cors body" {
			t.Fatalf("object after DeleteBucketCors: %q", got)
		}
	})
}
