package server

import (
	"strings"
	"testing"

	"github.com/strongboxdb/strongbox/s3api"
)

func TestParseCredentials(t *testing.T) {
	keys, err := parseCredentials([]byte(`{"keys": [
		{"access_key": "r", "secret_key": "s1", "permissions": ["read"]},
		{"access_key": "w", "secret_key": "s2", "permissions": ["write"]},
		{"access_key": "a", "secret_key": "s3", "permissions": ["admin"]},
		{"access_key": "all", "secret_key": "s4", "permissions": ["write", "admin"]}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]credential{
		"r":   {"s1", s3api.RightRead},
		"w":   {"s2", s3api.RightRead | s3api.RightWrite},
		"a":   {"s3", s3api.RightAdmin},
		"all": {"s4", s3api.RightsAll},
	}
	if len(keys) != len(want) {
		t.Fatalf("got %d keys", len(keys))
	}
	for ak, c := range want {
		if keys[ak] != c {
			t.Errorf("%s: %+v, want %+v", ak, keys[ak], c)
		}
	}
	if keys, err := parseCredentials([]byte(`{"keys": []}`)); err != nil || len(keys) != 0 {
		t.Errorf("no keys: %v %v", keys, err)
	}
}

// Every error names the place (line, key) and never the content: the
// file holds secrets, and these errors are logged.
func TestParseCredentialsErrorsHideSecrets(t *testing.T) {
	const sec = "Zsecret-Xyz-123"
	for _, tt := range []struct{ doc, want string }{
		{`{"keys": [{"access_key": "k", "secret_key": ` + sec + `, "permissions": ["read"]}]}`, "malformed JSON at line 1"},
		{"{\"keys\": [\n{\"access_key\": \"k\",\n \"secret_key\": \"" + sec + "\\q\"}]}", "malformed JSON at line 3"},
		{`{"keys": [{"access_key": "k", "secret_key": 4711, "permissions": ["read"]}]}`, "field keys.secret_key has the wrong type"},
		{`{"keys": [{"access_key": "k", "secret": "` + sec + `", "permissions": ["read"]}]}`, `unknown field "secret"`},
		{`{"keys": [{"access_key": "k", "secret_key": "` + sec + `", "permissions": ["root"]}]}`, `key "k": unknown permission`},
		{`{"keys": [{"access_key": "k", "secret_key": "` + sec + `"}]}`, `key "k": permissions are missing`},
		{`{"keys": [{"access_key": "k", "permissions": ["read"]}]}`, `key "k": secret_key is missing`},
		{`{"keys": [{"secret_key": "` + sec + `", "permissions": ["read"]}]}`, `keys[0]: access_key is missing`},
		{`{"keys": [{"access_key": "a/b", "secret_key": "` + sec + `", "permissions": ["read"]}]}`, `keys[0]: access_key must be`},
		{`{"keys": [{"access_key": "k", "secret_key": "x", "permissions": ["read"]}, {"access_key": "k", "secret_key": "` + sec + `", "permissions": ["read"]}]}`, `key "k" is listed twice`},
		{`{"keys": []} {"keys": [{"access_key": "k", "secret_key": "` + sec + `"}]}`, "more than one JSON document"},
		{`{"keys": [{"access_key": "k", "secret_key": "` + sec, "truncated"},
		{``, "truncated"},
	} {
		_, err := parseCredentials([]byte(tt.doc))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.doc, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), sec[:1]+"'") || strings.Contains(err.Error(), sec) || strings.Contains(err.Error(), "4711") {
			t.Errorf("%s: error %q shows content of the file", tt.doc, err)
		}
	}
}
