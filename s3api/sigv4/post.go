package sigv4

import (
	"crypto/hmac"
	"net/http"
)

// Browser-based uploads (S3 POST Object) are authenticated by their form,
// not by the request: the form carries a base64 POST policy and a
// signature of that text, and the policy, once verified, says what the
// form may contain. Only the signature is checked here; the caller decodes
// and enforces the policy.

// ErrInvalidPostCredential: a POST form's x-amz-credential does not parse
// or names a service other than s3. S3: InvalidArgument, 400; Message
// says which part.
var ErrInvalidPostCredential = &Error{Code: "InvalidArgument", Message: "Error parsing the X-Amz-Credential parameter.", Status: http.StatusBadRequest}

// VerifyPostV4 authenticates a SigV4 POST form: signature must be the hex
// HMAC-SHA256 of policy, the base64 text exactly as the form carried it,
// under the signing key of credential
// ("<access key>/<yyyymmdd>/<region>/s3/aws4_request"). Any region is
// accepted, as for requests. The returned Auth has Region and Service of
// the credential, Time set to now and an unsigned payload; it has no body
// state to verify. Errors are ErrInvalidPostCredential,
// ErrInvalidAccessKeyID or ErrSignatureDoesNotMatch (with StringToSign set
// to policy); the comparison takes constant time.
func (v *Verifier) VerifyPostV4(policy, credential, signature string) (*Auth, error) {
	cred, msg := parseCredential(credential)
	if msg != "" {
		return nil, ErrInvalidPostCredential.with(msg)
	}
	secret, ok := v.lookup(cred.accessKey)
	if !ok {
		return nil, ErrInvalidAccessKeyID
	}
	key := v.keys.get(cred.accessKey, secret, cred.date, cred.region, cred.service)
	sig := sign(&key, []byte(policy))
	if !sigEqual(&sig, signature) {
		return nil, signatureMismatch(policy)
	}
	return postAuth(cred.accessKey, cred.region, v), nil
}

// VerifyPostV2 authenticates a SigV2 POST form (fields AWSAccessKeyId and
// signature): signature must be the base64 HMAC-SHA1 of policy, as the
// form carried it, under accessKey's secret. Errors are
// ErrInvalidAccessKeyID and ErrSignatureDoesNotMatch (StringToSign set to
// policy); the comparison takes constant time.
func (v *Verifier) VerifyPostV2(policy, accessKey, signature string) (*Auth, error) {
	secret, ok := v.lookup(accessKey)
	if !ok {
		return nil, ErrInvalidAccessKeyID
	}
	if !hmac.Equal([]byte(v2Sign(secret, policy)), []byte(signature)) {
		return nil, signatureMismatch(policy)
	}
	return postAuth(accessKey, "", v), nil
}

func postAuth(accessKey, region string, v *Verifier) *Auth {
	return &Auth{
		AccessKey: accessKey, Region: region, Service: serviceS3, Time: v.now(),
		PayloadHash: UnsignedPayload, DecodedContentLength: -1,
	}
}
