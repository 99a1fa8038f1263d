package s3api

import (
	"bytes"
	"crypto/md5"
	"net/http"
	"strings"
)

// readXMLBody reads the XML document of a configuration or batch request
// (DeleteObjects, PutObjectTagging, PutBucketCors) and checks its
// integrity. S3 requires these requests to carry Content-MD5 or an
// x-amz-checksum-* value (current SDKs send a CRC32, as a header or as an
// aws-chunked trailer); with neither it answers InvalidRequest "Missing
// required header for this request: Content-MD5". Every digest that is
// present is verified (BadDigest); trailers were verified by the signature
// layer by the time the body reached EOF.
//
// A body longer than limit is refused with MalformedXML: every such
// document has a schema-imposed maximum far below it. The whole body is
// read before any check that needs it, so the connection stays usable.
func readXMLBody(r *http.Request, limit int64) ([]byte, error) {
	auth := authOf(r)
	wantMD5, err := contentMD5(r.Header)
	if err != nil {
		return nil, err
	}
	headerSums, err := checksumHeaders(r.Header)
	if err != nil {
		return nil, err
	}
	size := auth.DecodedContentLength
	if size > limit {
		return nil, ErrMalformedXML
	}
	body, err := readBody(r.Body, size, limit)
	if err == ErrEntityTooLarge {
		return nil, ErrMalformedXML
	}
	if err != nil {
		return nil, err
	}
	if wantMD5 == nil && len(headerSums) == 0 && len(auth.TrailerChecksums()) == 0 {
		return nil, ErrMissingContentMD5
	}
	if wantMD5 != nil {
		if sum := md5.Sum(body); !bytes.Equal(wantMD5, sum[:]) {
			return nil, ErrBadDigest
		}
	}
	for alg, want := range headerSums {
		if alg.Of(body) != want {
			return nil, ErrBadDigest.with("The " + strings.ToUpper(alg.String()) + " you specified did not match the calculated checksum.")
		}
	}
	return body, nil
}
