package s3api

import (
	"bytes"
	"encoding/xml"
	"net/http"
)

// DeleteObjects: POST /bucket?delete with a <Delete> document of up to
// 1000 keys. Every valid key is deleted by one state-machine command, so
// the batch is applied atomically at one log position. Keys S3 would
// refuse (too long, not UTF-8) and version IDs other than "null" get a
// per-key <Error>; the rest are reported <Deleted> unless Quiet.

const (
	maxDeleteKeys = 1000
	// maxDeleteBody bounds the document: 1000 keys of 1024 bytes plus
	// markup is about 1.1 MiB.
	maxDeleteBody = 2 << 20
)

type deleteRequest struct {
	XMLName xml.Name            `xml:"Delete"`
	Quiet   bool                `xml:"Quiet"`
	Objects []deleteRequestItem `xml:"Object"`
}

type deleteRequestItem struct {
	Key       *string `xml:"Key"`
	VersionID string  `xml:"VersionId"`
}

type deleteResult struct {
	XMLName xml.Name       `xml:"DeleteResult"`
	Xmlns   string         `xml:"xmlns,attr"`
	Deleted []deletedEntry `xml:"Deleted"`
	Errors  []deleteError  `xml:"Error"`
}

type deletedEntry struct {
	Key       string `xml:"Key"`
	VersionID string `xml:"VersionId,omitempty"`
}

type deleteError struct {
	Key       string `xml:"Key"`
	VersionID string `xml:"VersionId,omitempty"`
	Code      string `xml:"Code"`
	Message   string `xml:"Message"`
}

func (s *Server) deleteObjects(w http.ResponseWriter, r *http.Request) {
	bucket, _ := pathVars(r)
	body, err := readXMLBody(r, maxDeleteBody)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	req, err := parseDeleteRequest(body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := deleteResult{Xmlns: s3Namespace}
	keys := make([]string, 0, len(req.Objects))
	seen := make(map[string]bool, len(req.Objects))
	for _, o := range req.Objects {
		key := *o.Key
		var bad *APIError
		if err := checkKey(key); err != nil {
			bad = toAPIError(err)
		} else if o.VersionID != "" && o.VersionID != "null" {
			bad = ErrNoSuchVersion
		}
		if bad != nil {
			out.Errors = append(out.Errors, deleteError{Key: key, VersionID: o.VersionID, Code: bad.Code, Message: bad.Message})
			continue
		}
		if !req.Quiet {
			out.Deleted = append(out.Deleted, deletedEntry{Key: key, VersionID: o.VersionID})
		}
		if !seen[key] {
			seen[key] = true
			keys = append(keys, key)
		}
	}
	// Proposed even with no valid key: the state machine still answers
	// NoSuchBucket for a missing bucket, as S3 does.
	ctx, cancel := s.opContext(r)
	defer cancel()
	if err := s.backend.DeleteObjects(ctx, bucket, keys); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeXML(w, http.StatusOK, out)
}

// parseDeleteRequest decodes a Delete document: 1 to maxDeleteKeys
// Objects, each with a Key, else MalformedXML. It is decoded one element
// at a time (decodeXMLList), so a hostile 2 MiB document costs the decoder
// no more than a well-formed one. Keys are not validated here.
func parseDeleteRequest(body []byte) (*deleteRequest, error) {
	req := &deleteRequest{}
	err := decodeXMLList(bytes.NewReader(body), "Delete", func(d *xml.Decoder, se *xml.StartElement) error {
		switch se.Name.Local {
		case "Object":
			if len(req.Objects) == maxDeleteKeys {
				return ErrMalformedXML
			}
			var o deleteRequestItem
			if err := d.DecodeElement(&o, se); err != nil || o.Key == nil {
				return ErrMalformedXML
			}
			req.Objects = append(req.Objects, o)
			return nil
		case "Quiet":
			return d.DecodeElement(&req.Quiet, se)
		}
		return d.Skip()
	})
	if err != nil {
		return nil, err
	}
	if len(req.Objects) == 0 {
		return nil, ErrMalformedXML
	}
	return req, nil
}
