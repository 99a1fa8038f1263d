package sigv4

import "net/http"

// Error is a verification failure in S3's terms: Code is the S3 error code
// clients switch on, Message the text S3 sends, Status the HTTP status. The
// s3api error table maps it by Code; S3Code, S3Message and S3Status expose
// the same values through an interface so callers need not import this
// package to render it.
//
// The exported Err values are sentinels. Verify and the body readers return
// either a sentinel or an *Error derived from one with a more specific
// Message; errors.Is matches both against the sentinel. Two sentinels that
// share a Code (ErrExpiredRequest and ErrAccessDenied, both AccessDenied)
// stay distinct for errors.Is.
type Error struct {
	Code    string
	Message string
	Status  int

	// StringToSign and CanonicalRequest are what the server computed, set
	// only on a SignatureDoesNotMatch from Verify. S3 returns both in its
	// error document so a client author can diff them against their own.
	StringToSign     string
	CanonicalRequest string

	// HeadersNotSigned names, comma-separated, the x-amz-* headers a
	// request carried outside its signature; set only on the
	// ErrHeadersNotSigned kind. S3 returns it as an element of its own.
	HeadersNotSigned string

	kind *Error // the sentinel this error derives from; nil for a sentinel
}

func (e *Error) Error() string { return "sigv4: " + e.Code + ": " + e.Message }

// Is reports whether target is e itself or the sentinel e derives from.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && (t == e || t == e.kind)
}

// S3Code returns the S3 error code.
func (e *Error) S3Code() string { return e.Code }

// S3Message returns the S3 error message.
func (e *Error) S3Message() string { return e.Message }

// S3Status returns the HTTP status code.
func (e *Error) S3Status() int { return e.Status }

// with returns an error of e's kind carrying a more specific message.
// signatureMismatch is ErrSignatureDoesNotMatch carrying the string the
// server signed, which S3 returns so a client can find what differed.
func signatureMismatch(stringToSign string) *Error {
	e := ErrSignatureDoesNotMatch.with(ErrSignatureDoesNotMatch.Message)
	e.StringToSign = stringToSign
	return e
}

func (e *Error) with(msg string) *Error {
	kind := e.kind
	if kind == nil {
		kind = e
	}
	return &Error{Code: e.Code, Message: msg, Status: e.Status, kind: kind}
}

// Authentication failures found by Verify.
var (
	// ErrAccessDenied: the request carries no signature at all (no
	// Authorization header, no X-Amz-Signature); it is anonymous. S3:
	// AccessDenied, 403, "Access Denied". A caller that someday serves
	// public buckets can tell this case from every other failure.
	ErrAccessDenied = &Error{Code: "AccessDenied", Message: "Access Denied", Status: http.StatusForbidden}

	// ErrExpiredRequest: a presigned URL used after X-Amz-Date +
	// X-Amz-Expires. S3: AccessDenied, 403, "Request has expired". The
	// signature was not checked; a new URL is needed.
	ErrExpiredRequest = &Error{Code: "AccessDenied", Message: "Request has expired", Status: http.StatusForbidden}

	// ErrRequestNotYetValid: a presigned URL whose X-Amz-Date is further in
	// the future than MaxSkew. S3: AccessDenied, 403, "Request is not valid
	// yet".
	ErrRequestNotYetValid = &Error{Code: "AccessDenied", Message: "Request is not valid yet", Status: http.StatusForbidden}

	// ErrMissingDate: header authentication without a parseable X-Amz-Date
	// or Date header, or (SigV2) with an empty X-Amz-Date. S3:
	// AccessDenied, 403.
	ErrMissingDate = &Error{Code: "AccessDenied", Message: "AWS authentication requires a valid Date or x-amz-date header", Status: http.StatusForbidden}

	// ErrHeadersNotSigned: a SigV4 request (header-signed or presigned)
	// carries an x-amz-* header its SignedHeaders does not list. S3:
	// AccessDenied, 403, with a HeadersNotSigned element naming them.
	// Such a header would change what the request does (x-amz-copy-source
	// turns a presigned PUT into a copy of any object), so it is refused,
	// never ignored.
	ErrHeadersNotSigned = &Error{Code: "AccessDenied", Message: "There were headers present in the request which were not signed", Status: http.StatusForbidden}

	// ErrSignatureDoesNotMatch: the secret, the request or (for aws-chunked
	// bodies) a chunk or trailer differs from what was signed. S3:
	// SignatureDoesNotMatch, 403. Nothing about the request can be trusted.
	ErrSignatureDoesNotMatch = &Error{Code: "SignatureDoesNotMatch", Message: "The request signature we calculated does not match the signature you provided. Check your key and signing method.", Status: http.StatusForbidden}

	// ErrInvalidAccessKeyID: Lookup does not know the access key. S3:
	// InvalidAccessKeyId, 403.
	ErrInvalidAccessKeyID = &Error{Code: "InvalidAccessKeyId", Message: "The AWS Access Key Id you provided does not exist in our records.", Status: http.StatusForbidden}

	// ErrRequestTimeTooSkewed: a header-signed request whose time is more
	// than MaxSkew from the server's clock. S3: RequestTimeTooSkewed, 403.
	// SDKs correct their clock offset from the response's Date and retry.
	ErrRequestTimeTooSkewed = &Error{Code: "RequestTimeTooSkewed", Message: "The difference between the request time and the current time is too large.", Status: http.StatusForbidden}

	// ErrAuthorizationHeaderMalformed: the Authorization header does not
	// parse, or its credential scope is wrong (service not s3, terminator
	// not aws4_request, date not that of X-Amz-Date). S3:
	// AuthorizationHeaderMalformed, 400; Message says which part.
	ErrAuthorizationHeaderMalformed = &Error{Code: "AuthorizationHeaderMalformed", Message: "The authorization header is malformed.", Status: http.StatusBadRequest}

	// ErrAuthorizationQueryParametersError: presigned-URL parameters
	// missing or malformed, including X-Amz-Expires outside 1..604800. S3:
	// AuthorizationQueryParametersError, 400; Message says which part.
	ErrAuthorizationQueryParametersError = &Error{Code: "AuthorizationQueryParametersError", Message: "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.", Status: http.StatusBadRequest}

	// ErrUnsupportedAuthorization: SigV4a or an unknown scheme. S3:
	// InvalidRequest, 400.
	ErrUnsupportedAuthorization = &Error{Code: "InvalidRequest", Message: "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.", Status: http.StatusBadRequest}

	// ErrInvalidV2Authorization: a SigV2 "Authorization: AWS ..." header
	// whose credential is not AccessKeyId:Signature. S3: InvalidArgument,
	// 400 (not AuthorizationHeaderMalformed, which S3 keeps for SigV4).
	ErrInvalidV2Authorization = &Error{Code: "InvalidArgument", Message: "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature", Status: http.StatusBadRequest}

	// ErrMultipleAuthMechanisms: both an Authorization header and presigned
	// query parameters. S3: InvalidArgument, 400.
	ErrMultipleAuthMechanisms = &Error{Code: "InvalidArgument", Message: "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified", Status: http.StatusBadRequest}

	// ErrMissingContentSHA256: header authentication without
	// x-amz-content-sha256, which S3 requires. S3: InvalidRequest, 400.
	ErrMissingContentSHA256 = &Error{Code: "InvalidRequest", Message: "Missing required header for this request: x-amz-content-sha256", Status: http.StatusBadRequest}

	// ErrInvalidContentSHA256: x-amz-content-sha256 is neither a hex SHA256
	// nor one of the payload keywords this server supports (SigV4a
	// STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD is not supported). Also
	// returned for a streaming keyword on a presigned URL. S3:
	// InvalidArgument, 400.
	ErrInvalidContentSHA256 = &Error{Code: "InvalidArgument", Message: "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.", Status: http.StatusBadRequest}

	// ErrInvalidTrailerHeader: x-amz-trailer names something other than an
	// x-amz-checksum-* trailer, or more than one. S3: InvalidRequest, 400.
	ErrInvalidTrailerHeader = &Error{Code: "InvalidRequest", Message: "The value specified in the x-amz-trailer header is not supported", Status: http.StatusBadRequest}
)

// Body failures, returned by the reader from Auth.Body. They arrive from
// Read, at the latest in place of io.EOF: a caller must not commit a body
// before reading it to io.EOF without error.
var (
	// ErrContentSHA256Mismatch: the body's SHA256 differs from the hex
	// x-amz-content-sha256. S3: XAmzContentSHA256Mismatch, 400. Returned at
	// EOF; every byte read before it is suspect.
	ErrContentSHA256Mismatch = &Error{Code: "XAmzContentSHA256Mismatch", Message: "The provided 'x-amz-content-sha256' header does not match what was computed.", Status: http.StatusBadRequest}

	// ErrBadDigest: a trailing x-amz-checksum-* value differs from the
	// checksum of the decoded body. S3: BadDigest, 400, "The CRC32 you
	// specified did not match the calculated checksum." (the algorithm named
	// in the Message). Newer S3 answers some checksum mismatches with
	// XAmzContentChecksumMismatch; BadDigest is what SDKs have long handled
	// and what S3 documents for PutObject, so it is used throughout.
	ErrBadDigest = &Error{Code: "BadDigest", Message: "The checksum you specified did not match the calculated checksum.", Status: http.StatusBadRequest}

	// ErrInvalidChecksumValue: a trailing checksum that is not the base64 of
	// a digest of the right length. S3: InvalidRequest, 400, "Value for
	// x-amz-checksum-crc32 trailing header is invalid."
	ErrInvalidChecksumValue = &Error{Code: "InvalidRequest", Message: "Value for the checksum trailing header is invalid.", Status: http.StatusBadRequest}

	// ErrIncompleteBody: the body ended early (truncated aws-chunked
	// framing, a connection cut short) or its decoded length differs from
	// x-amz-decoded-content-length. S3: IncompleteBody, 400.
	ErrIncompleteBody = &Error{Code: "IncompleteBody", Message: "You did not provide the number of bytes specified by the Content-Length HTTP header.", Status: http.StatusBadRequest}

	// ErrInvalidChunk: the aws-chunked framing does not parse (bad chunk
	// size, a line too long, missing CRLF). S3 does not document a code for
	// this; InvalidRequest, 400, is used.
	ErrInvalidChunk = &Error{Code: "InvalidRequest", Message: "The aws-chunked encoding of the request body is malformed.", Status: http.StatusBadRequest}

	// ErrInvalidChunkSize: a chunk other than the last data chunk is smaller
	// than 8 KiB, which S3 forbids. S3: InvalidChunkSizeError, 403.
	ErrInvalidChunkSize = &Error{Code: "InvalidChunkSizeError", Message: "Only the last chunk is allowed to have a size less than 8192 bytes", Status: http.StatusForbidden}

	// ErrMalformedTrailer: the trailer section after the final chunk is not
	// well formed, lacks the trailer x-amz-trailer announced, carries one it
	// did not, or (signed trailers) lacks x-amz-trailer-signature. S3:
	// MalformedTrailerError, 400.
	ErrMalformedTrailer = &Error{Code: "MalformedTrailerError", Message: "The request contained trailing data that was not well-formed or did not conform to our published schema.", Status: http.StatusBadRequest}
)
