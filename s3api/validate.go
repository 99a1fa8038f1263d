package s3api

import (
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"
)

// Limits S3 enforces; clients and test suites depend on the exact values.
const (
	maxKeyLength    = 1024
	maxUserMetadata = 2048
	maxListKeys     = 1000
)

// validBucketName applies S3's general-purpose bucket naming rules:
// 3-63 characters of lowercase letters, digits, dots and hyphens, starting
// and ending with a letter or digit, no "..", not shaped like an IP
// address, and none of the reserved prefixes and suffixes.
func validBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '.' || c == '-':
			if i == 0 || i == len(name)-1 {
				return false
			}
		default:
			return false
		}
	}
	if strings.Contains(name, "..") || strings.Contains(name, ".-") || strings.Contains(name, "-.") {
		return false
	}
	if ipShaped(name) {
		return false
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	for _, sfx := range []string{"-s3alias", "--ol-s3", "--x-s3", ".mrap", "--table-s3"} {
		if strings.HasSuffix(name, sfx) {
			return false
		}
	}
	return true
}

// ipShaped reports whether name is four dot-separated runs of digits,
// which S3 refuses as "formatted as an IP address" whether or not the
// numbers make one (256.1.1.1, 01.2.3.4).
func ipShaped(name string) bool {
	parts := strings.Split(name, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if !isDigits(p) {
			return false
		}
	}
	return true
}

// checkKey validates an object key as S3 does: non-empty, valid UTF-8,
// at most 1024 bytes.
func checkKey(key string) error {
	if len(key) > maxKeyLength {
		return ErrKeyTooLong
	}
	if key == "" || !utf8.ValidString(key) {
		return ErrInvalidArgument.with("Invalid object key")
	}
	return nil
}

// storageClasses are the values S3 takes in x-amz-storage-class. Every
// object is stored (and reported) as STANDARD; the others are accepted so
// that code written for them runs, and anything else is refused as S3
// refuses it.
var storageClasses = []string{
	"STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA",
	"INTELLIGENT_TIERING", "GLACIER", "DEEP_ARCHIVE", "OUTPOSTS", "GLACIER_IR",
	"SNOW", "EXPRESS_ONEZONE", "FSX_OPENZFS", "FSX_ONTAP",
}

// checkWriteHeaders refuses the headers of a write (PutObject, CopyObject,
// CreateMultipartUpload, UploadPart, UploadPartCopy) that ask for what
// Strongbox cannot do, instead of silently storing the object without it:
// a client that sends its own encryption key must not get a 200 for a
// plaintext object anyone can read.
//
// SSE-S3 ("AES256") is accepted: S3 applies it to every object anyway, and
// nothing about the API changes with it.
func checkWriteHeaders(h http.Header) error {
	// net/http canonicalizes the names of a served request's headers (and
	// Header.Set those of hoisted presign parameters), so the canonical
	// prefixes match without lowering every name of every write.
	for name := range h {
		if strings.HasPrefix(name, "X-Amz-Server-Side-Encryption-Customer-") ||
			strings.HasPrefix(name, "X-Amz-Copy-Source-Server-Side-Encryption-Customer-") {
			return ErrNotImplemented.with("Server-side encryption with customer-provided keys (SSE-C) is not implemented.")
		}
		if strings.HasPrefix(name, "X-Amz-Object-Lock-") {
			return ErrNoObjectLockConfig
		}
	}
	switch v := h.Get("X-Amz-Server-Side-Encryption"); v {
	case "", "AES256":
	case "aws:kms", "aws:kms:dsse", "aws:fsx":
		return ErrNotImplemented.with("Server-side encryption with " + v + " is not implemented.")
	default:
		return ErrInvalidEncryption
	}
	if h.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id") != "" || h.Get("X-Amz-Server-Side-Encryption-Context") != "" {
		return ErrNotImplemented.with("Server-side encryption with aws:kms is not implemented.")
	}
	if v := h.Get("X-Amz-Storage-Class"); v != "" && !slices.Contains(storageClasses, v) {
		return ErrInvalidStorageClass
	}
	return nil
}
