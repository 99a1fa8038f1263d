package s3api

import (
	"encoding/xml"
	"errors"
	"net/http"
	"os"
	"strings"

	"github.com/strongboxdb/strongbox/objstore"
	"github.com/strongboxdb/strongbox/s3api/checksum"
)

// APIError is one row of the S3 error table: the code clients switch on, the
// HTTP status, and the message AWS sends. Handlers return *APIError values
// (usually via wrap) and writeError is the only place that renders them.
type APIError struct {
	Code    string
	Message string
	Status  int
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// with returns a copy carrying a more specific message.
func (e *APIError) with(msg string) *APIError {
	c := *e
	c.Message = msg
	return &c
}

// The error table. Codes, statuses and messages follow the AWS S3 API
// reference ("Error responses"); keep them exact, clients switch on them.
var (
	ErrAccessDenied               = &APIError{"AccessDenied", "Access Denied", http.StatusForbidden}
	ErrBadDigest                  = &APIError{"BadDigest", "The Content-MD5 or checksum value that you specified did not match what the server received.", http.StatusBadRequest}
	ErrBucketAlreadyOwnedByYou    = &APIError{"BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.", http.StatusConflict}
	ErrBucketNotEmpty             = &APIError{"BucketNotEmpty", "The bucket you tried to delete is not empty", http.StatusConflict}
	ErrEntityTooLarge             = &APIError{"EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.", http.StatusBadRequest}
	ErrIncompleteBody             = &APIError{"IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.", http.StatusBadRequest}
	ErrInternal                   = &APIError{"InternalError", "We encountered an internal error. Please try again.", http.StatusInternalServerError}
	ErrInvalidArgument            = &APIError{"InvalidArgument", "Invalid Argument", http.StatusBadRequest}
	ErrInvalidBucketName          = &APIError{"InvalidBucketName", "The specified bucket is not valid.", http.StatusBadRequest}
	ErrInvalidDigest              = &APIError{"InvalidDigest", "The Content-MD5 you specified is not valid.", http.StatusBadRequest}
	ErrInvalidRange               = &APIError{"InvalidRange", "The requested range is not satisfiable", http.StatusRequestedRangeNotSatisfiable}
	ErrInvalidRequest             = &APIError{"InvalidRequest", "Invalid Request", http.StatusBadRequest}
	ErrKeyTooLong                 = &APIError{"KeyTooLongError", "Your key is too long", http.StatusBadRequest}
	ErrMalformedXML               = &APIError{"MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.", http.StatusBadRequest}
	ErrMetadataTooLarge           = &APIError{"MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.", http.StatusBadRequest}
	ErrHeaderSectionTooLarge      = &APIError{"RequestHeaderSectionTooLarge", "Your request header section exceeds the maximum allowed size.", http.StatusBadRequest}
	ErrMethodNotAllowed           = &APIError{"MethodNotAllowed", "The specified method is not allowed against this resource.", http.StatusMethodNotAllowed}
	ErrMissingContentLength       = &APIError{"MissingContentLength", "You must provide the Content-Length HTTP header.", http.StatusLengthRequired}
	ErrNoSuchBucket               = &APIError{"NoSuchBucket", "The specified bucket does not exist", http.StatusNotFound}
	ErrNoSuchKey                  = &APIError{"NoSuchKey", "The specified key does not exist.", http.StatusNotFound}
	ErrNotImplemented             = &APIError{"NotImplemented", "A header or query you provided implies functionality that is not implemented.", http.StatusNotImplemented}
	ErrNotModified                = &APIError{"NotModified", "Not Modified", http.StatusNotModified}
	ErrPreconditionFailed         = &APIError{"PreconditionFailed", "At least one of the pre-conditions you specified did not hold", http.StatusPreconditionFailed}
	ErrServiceUnavailable         = &APIError{"ServiceUnavailable", "Please reduce your request rate.", http.StatusServiceUnavailable}
	ErrSlowDown                   = &APIError{"SlowDown", "Please reduce your request rate.", http.StatusServiceUnavailable}
	ErrInvalidLocationConstraint  = &APIError{"InvalidLocationConstraint", "The specified location constraint is not valid.", http.StatusBadRequest}
	ErrInvalidContinuationToken   = &APIError{"InvalidArgument", "The continuation token provided is incorrect", http.StatusBadRequest}
	ErrUnexpectedContent          = &APIError{"UnexpectedContent", "This request does not support content", http.StatusBadRequest}
	ErrInvalidEncodingType        = &APIError{"InvalidArgument", "Invalid Encoding Method specified in Request", http.StatusBadRequest}
	ErrInvalidMaxKeys             = &APIError{"InvalidArgument", "Argument max-keys must be an integer between 0 and 2147483647", http.StatusBadRequest}
	ErrRequestTimeout             = &APIError{"RequestTimeout", "Your socket connection to the server was not read from or written to within the timeout period.", http.StatusBadRequest}
	ErrAuthorizationHeaderInvalid = &APIError{"AuthorizationHeaderMalformed", "The authorization header is malformed.", http.StatusBadRequest}
)

// Rows for a node whose disk refuses writes (objstore.ErrNoSpace and
// ErrReadOnly). S3 has no code for a full disk. 503 ServiceUnavailable
// is what S3 answers when it cannot serve a request for now, and every
// AWS SDK retries it with backoff; SlowDown would tell the client that
// its request rate is the problem (SDKs treat it as throttling and, in
// adaptive mode, slow down), which a full disk is not; MinIO's 507
// XMinioStorageFull is retried by no AWS SDK. The message says why, so a
// client's log names the cause.
var (
	ErrStorageFull     = &APIError{"ServiceUnavailable", "A storage node is out of disk space. Please retry later.", http.StatusServiceUnavailable}
	ErrStorageReadOnly = &APIError{"ServiceUnavailable", "A storage node cannot write to its disk (read-only or not writable). Please retry later.", http.StatusServiceUnavailable}
)

// Rows for CopyObject, DeleteObjects, tagging, CORS and GetObjectAttributes.
// Where S3's wire message differs from its documentation, the wire wins.
var (
	ErrMissingContentMD5     = &APIError{"InvalidRequest", "Missing required header for this request: Content-MD5", http.StatusBadRequest}
	ErrInvalidCopySource     = &APIError{"InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey", http.StatusBadRequest}
	ErrInvalidVersionID      = &APIError{"InvalidArgument", "Invalid version id specified", http.StatusBadRequest}
	ErrInvalidStorageClass   = &APIError{"InvalidStorageClass", "The storage class you specified is not valid", http.StatusBadRequest}
	ErrInvalidEncryption     = &APIError{"InvalidArgument", "The encryption method specified is not supported", http.StatusBadRequest}
	ErrNoObjectLockConfig    = &APIError{"InvalidRequest", "Bucket is missing Object Lock Configuration", http.StatusBadRequest}
	ErrCopyToItself          = &APIError{"InvalidRequest", "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.", http.StatusBadRequest}
	ErrNoSuchVersion         = &APIError{"NoSuchVersion", "The specified version does not exist.", http.StatusNotFound}
	ErrInvalidTag            = &APIError{"InvalidTag", "The TagKey you have provided is invalid", http.StatusBadRequest}
	ErrTooManyTags           = &APIError{"BadRequest", "Object tags cannot be greater than 10", http.StatusBadRequest}
	ErrInvalidTaggingHeader  = &APIError{"InvalidArgument", "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.", http.StatusBadRequest}
	ErrNoSuchCORSConfig      = &APIError{"NoSuchCORSConfiguration", "The CORS configuration does not exist", http.StatusNotFound}
	ErrCORSMissingOrigin     = &APIError{"BadRequest", "Insufficient information. Origin request header needed.", http.StatusBadRequest}
	ErrCORSInvalidMethod     = &APIError{"BadRequest", "Invalid Access-Control-Request-Method: ", http.StatusBadRequest}
	ErrCORSNotEnabled        = &APIError{"AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.", http.StatusForbidden}
	ErrCORSBucketNotFound    = &APIError{"AccessForbidden", "CORSResponse: Bucket not found", http.StatusForbidden}
	ErrCORSNotAllowed        = &APIError{"AccessForbidden", "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.", http.StatusForbidden}
	ErrMissingAttributes     = &APIError{"InvalidRequest", "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty", http.StatusBadRequest}
	ErrInvalidAttributeName  = &APIError{"InvalidArgument", "Invalid attribute name specified.", http.StatusBadRequest}
	ErrInvalidChecksumAlgo   = &APIError{"InvalidRequest", "Value for x-amz-checksum-algorithm header is invalid.", http.StatusBadRequest}
	ErrUnknownDirective      = &APIError{"InvalidArgument", "Unknown metadata directive.", http.StatusBadRequest}
	ErrUnknownTagDirective   = &APIError{"InvalidArgument", "Unknown tagging directive.", http.StatusBadRequest}
	ErrInvalidCopySourceName = &APIError{"InvalidArgument", "Invalid copy source encoding", http.StatusBadRequest}
)

// Rows for large objects and multipart uploads. The messages are the ones
// S3 sends on the wire (NoSuchUpload, InvalidPart and EntityTooSmall differ
// from the documentation's error table).
var (
	ErrNoSuchUpload          = &APIError{"NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.", http.StatusNotFound}
	ErrInvalidPart           = &APIError{"InvalidPart", "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.", http.StatusBadRequest}
	ErrInvalidPartOrder      = &APIError{"InvalidPartOrder", "The list of parts was not in ascending order. Parts must be ordered by part number.", http.StatusBadRequest}
	ErrEntityTooSmall        = &APIError{"EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size", http.StatusBadRequest}
	ErrInvalidPartNumber     = &APIError{"InvalidPartNumber", "The requested partnumber is not satisfiable", http.StatusRequestedRangeNotSatisfiable}
	ErrInvalidPartNumberArg  = &APIError{"InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive", http.StatusBadRequest}
	ErrPartNumberWithRange   = &APIError{"InvalidRequest", "Cannot specify both Range header and partNumber query parameter", http.StatusBadRequest}
	ErrPartNumberNoUploadID  = &APIError{"InvalidArgument", "This operation does not accept partNumber without uploadId", http.StatusBadRequest}
	ErrUploadsWithKey        = &APIError{"InvalidRequest", "Key is not expected for the GET method ?uploads subresource", http.StatusBadRequest}
	ErrCompletePartNumber    = &APIError{"InvalidArgument", "PartNumber must be >= 1", http.StatusBadRequest}
	ErrMultiplePartChecksums = &APIError{"InvalidArgument", "Invalid Base64 or multiple checksums present in request", http.StatusBadRequest}
	ErrMultipleChecksums     = &APIError{"InvalidRequest", "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.", http.StatusBadRequest}
	ErrUnsupportedChecksum   = &APIError{"InvalidRequest", "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, MD5, SHA1, SHA256, SHA512, XXHASH64, XXHASH3, XXHASH128]", http.StatusBadRequest}
	ErrChecksumTypeAlone     = &APIError{"InvalidRequest", "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.", http.StatusBadRequest}
	ErrInvalidChecksumType   = &APIError{"InvalidRequest", "Value for x-amz-checksum-type header is invalid.", http.StatusBadRequest}
	ErrCopySourceRange       = &APIError{"InvalidArgument", "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy", http.StatusBadRequest}
	ErrCopySourceTooLarge    = &APIError{"InvalidRequest", "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120", http.StatusBadRequest}
	ErrInvalidMaxParts       = &APIError{"InvalidArgument", "Argument max-parts must be an integer between 0 and 2147483647", http.StatusBadRequest}
	ErrInvalidPartMarker     = &APIError{"InvalidArgument", "Argument part-number-marker must be an integer between 0 and 2147483647", http.StatusBadRequest}
	ErrInvalidMaxUploads     = &APIError{"InvalidArgument", "Argument max-uploads must be an integer between 0 and 2147483647", http.StatusBadRequest}
)

// Rows for POST Object (browser-based uploads, post.go). The messages are
// the ones S3 sends on the wire, including its misspelling "preceeding";
// where the documentation's table differs (RequestIsNotMultiPartContent,
// UserKeyMustBeSpecified, IncorrectNumberOfFilesInPostRequest), the wire
// wins.
var (
	ErrMalformedPOSTRequest  = &APIError{"MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data.", http.StatusBadRequest}
	ErrMaxPostPreDataLength  = &APIError{"MaxPostPreDataLengthExceeded", "Your POST request fields preceeding the upload file was too large.", http.StatusBadRequest}
	ErrInvalidPolicyDocument = &APIError{"InvalidPolicyDocument", "Invalid Policy: Invalid JSON.", http.StatusBadRequest}
	ErrPostFileCount         = &APIError{"InvalidArgument", "POST requires exactly one file upload per request.", http.StatusBadRequest}
)

// detailedError is an APIError with the extra elements some S3 errors
// carry in their document: PreconditionFailed's Condition, and
// InvalidArgument's ArgumentName and ArgumentValue (both present, the
// value possibly empty, when argName is set).
type detailedError struct {
	*APIError
	condition         string
	argName, argValue string
}

func (e *detailedError) Unwrap() error { return e.APIError }

// errChecksumTypeMismatch is S3's answer to a part (or a Complete) whose
// checksum algorithm is not the upload's; "null" names a missing one.
func errChecksumTypeMismatch(expected, actual string) *APIError {
	if actual == "" {
		actual = "null"
	}
	return ErrInvalidRequest.with("Checksum Type mismatch occurred, expected checksum Type: " + expected + ", actual checksum Type: " + actual)
}

// errBadChecksum is BadDigest naming the algorithm whose value differed.
func errBadChecksum(alg checksum.Algorithm) *APIError {
	return ErrBadDigest.with("The " + strings.ToUpper(alg.String()) + " you specified did not match the calculated checksum.")
}

// toAPIError maps any error a handler meets to one row of the table. Errors
// from the backend arrive as objstore sentinels; errors from the signature
// layer carry their own S3 code. Anything unknown is an InternalError, so
// an unexpected failure never leaks internals or masquerades as success.
func toAPIError(err error) *APIError {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr
	}
	var coded interface {
		S3Code() string
		S3Message() string
		S3Status() int
	}
	if errors.As(err, &coded) {
		return &APIError{Code: coded.S3Code(), Message: coded.S3Message(), Status: coded.S3Status()}
	}
	switch {
	case errors.Is(err, objstore.ErrNoSuchBucket):
		return ErrNoSuchBucket
	case errors.Is(err, objstore.ErrNoSuchKey):
		return ErrNoSuchKey
	case errors.Is(err, objstore.ErrBucketExists):
		return ErrBucketAlreadyOwnedByYou
	case errors.Is(err, objstore.ErrBucketNotEmpty):
		return ErrBucketNotEmpty
	case errors.Is(err, objstore.ErrPreconditionFailed):
		return ErrPreconditionFailed
	case errors.Is(err, objstore.ErrNoSpace): // before ErrUnavailable, which it wraps
		return ErrStorageFull
	case errors.Is(err, objstore.ErrReadOnly):
		return ErrStorageReadOnly
	case errors.Is(err, objstore.ErrSlowDown):
		return ErrSlowDown
	case errors.Is(err, objstore.ErrUnavailable):
		return ErrServiceUnavailable
	case errors.Is(err, objstore.ErrNoSuchUpload):
		return ErrNoSuchUpload
	case errors.Is(err, objstore.ErrInvalidPart):
		return ErrInvalidPart
	case errors.Is(err, objstore.ErrInvalidPartOrder):
		return ErrInvalidPartOrder
	case errors.Is(err, objstore.ErrEntityTooSmall):
		return ErrEntityTooSmall
	case errors.Is(err, objstore.ErrBadDigest):
		return ErrBadDigest
	case errors.Is(err, objstore.ErrEntityTooLarge):
		return ErrEntityTooLarge
	case errors.Is(err, os.ErrDeadlineExceeded):
		// Last: a backend error wrapping a timeout of its own is the
		// backend's sentinel; an unwrapped one is a request body that
		// made no progress within BodyIdleTimeout.
		return ErrRequestTimeout
	}
	return ErrInternal
}

type errorBody struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Condition string   `xml:"Condition,omitempty"`
	// HeadersNotSigned lists the x-amz-* headers outside a signature.
	HeadersNotSigned string  `xml:"HeadersNotSigned,omitempty"`
	ArgName          string  `xml:"ArgumentName,omitempty"`
	ArgValue         *string `xml:"ArgumentValue"`
	BucketName       string  `xml:"BucketName,omitempty"`
	Key              string  `xml:"Key,omitempty"`
	Resource         string  `xml:"Resource"`
	RequestID        string  `xml:"RequestId"`
	HostID           string  `xml:"HostId"`
}
