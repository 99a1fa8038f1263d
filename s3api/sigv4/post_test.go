package sigv4

import (
	"errors"
	"testing"
)

// TestVerifyPostV4AWSExample checks the signature of AWS's own example
// ("Example: Browser-Based Upload using HTTP POST (Using AWS Signature
// Version 4)", sigv4-post-example): the policy text and the signature
// the page gives.
func TestVerifyPostV4AWSExample(t *testing.T) {
	const (
		policy = "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9"
		cred   = "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request"
		sig    = "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e"
	)
	v := &Verifier{Lookup: func(ak string) (string, bool) {
		return "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ak == "AKIAIOSFODNN7EXAMPLE"
	}}
	a, err := v.VerifyPostV4(policy, cred, sig)
	if err != nil {
		t.Fatalf("AWS example: %v", err)
	}
	if a.AccessKey != "AKIAIOSFODNN7EXAMPLE" || a.Region != "us-east-1" || a.Service != "s3" {
		t.Errorf("auth = %+v", a)
	}
	if _, err := v.VerifyPostV4(policy[:len(policy)-2], cred, sig); !errors.Is(err, ErrSignatureDoesNotMatch) {
		t.Errorf("truncated policy: %v, want SignatureDoesNotMatch", err)
	}
	var e *Error
	if _, err := v.VerifyPostV4(policy, cred, sig[:63]+"f"); !errors.As(err, &e) || !errors.Is(err, ErrSignatureDoesNotMatch) || e.StringToSign != policy {
		t.Errorf("altered signature: %v", err)
	}
	if _, err := v.VerifyPostV4(policy, "NOPE/20151229/us-east-1/s3/aws4_request", sig); !errors.Is(err, ErrInvalidAccessKeyID) {
		t.Errorf("unknown key: %v", err)
	}
	if _, err := v.VerifyPostV4(policy, "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/ec2/aws4_request", sig); !errors.Is(err, ErrInvalidPostCredential) {
		t.Errorf("wrong service: %v", err)
	}
}

func TestVerifyPostV2(t *testing.T) {
	v := &Verifier{Lookup: func(ak string) (string, bool) { return "sk", ak == "ak" }}
	// base64(HMAC-SHA1("sk", "cG9saWN5")), computed outside Go.
	const good = "dtk76Np5HI2qDKKwCtJYeX4FAFQ="
	if _, err := v.VerifyPostV2("cG9saWN5", "ak", good); err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyPostV2("cG9saWN6", "ak", good); !errors.Is(err, ErrSignatureDoesNotMatch) {
		t.Errorf("other policy: %v", err)
	}
	if _, err := v.VerifyPostV2("cG9saWN5", "nope", good); !errors.Is(err, ErrInvalidAccessKeyID) {
		t.Errorf("unknown key: %v", err)
	}
}
