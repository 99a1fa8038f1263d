package s3api

import (
	"net"
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
	if net.ParseIP(name) != nil {
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
