package s3api

import (
	"encoding/xml"
	"net/http"
	"strings"
)

// GetObjectAttributes: GET /bucket/key?attributes with the attribute names
// in x-amz-object-attributes. Objects here are never multipart, so
// ObjectParts is accepted and left out of the answer, as S3 does for a
// single-part object.

type objectAttributesResponse struct {
	XMLName      xml.Name            `xml:"GetObjectAttributesResponse"`
	Xmlns        string              `xml:"xmlns,attr"`
	ETag         string              `xml:"ETag,omitempty"`
	Checksum     *attributesChecksum `xml:"Checksum,omitempty"`
	StorageClass string              `xml:"StorageClass,omitempty"`
	ObjectSize   *int64              `xml:"ObjectSize,omitempty"`
}

type attributesChecksum struct {
	ChecksumCRC32     string `xml:"ChecksumCRC32,omitempty"`
	ChecksumCRC32C    string `xml:"ChecksumCRC32C,omitempty"`
	ChecksumCRC64NVME string `xml:"ChecksumCRC64NVME,omitempty"`
	ChecksumSHA1      string `xml:"ChecksumSHA1,omitempty"`
	ChecksumSHA256    string `xml:"ChecksumSHA256,omitempty"`
	ChecksumType      string `xml:"ChecksumType"`
}

var objectAttributeNames = map[string]bool{
	"ETag": true, "Checksum": true, "ObjectParts": true, "StorageClass": true, "ObjectSize": true,
}

func (s *Server) getObjectAttributes(w http.ResponseWriter, r *http.Request) {
	bucket, key := pathVars(r)
	if err := checkVersionID(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	want := map[string]bool{}
	for _, v := range r.Header.Values("X-Amz-Object-Attributes") {
		for name := range strings.SplitSeq(v, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if !objectAttributeNames[name] {
				s.writeError(w, r, ErrInvalidAttributeName)
				return
			}
			want[name] = true
		}
	}
	if len(want) == 0 {
		s.writeError(w, r, ErrMissingAttributes)
		return
	}
	ctx, cancel := s.opContext(r)
	defer cancel()
	info, err := s.backend.HeadObject(ctx, bucket, key)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := objectAttributesResponse{Xmlns: s3Namespace}
	if want["ETag"] {
		out.ETag = info.ETag // unquoted in this API
	}
	if want["Checksum"] && len(info.Checksums) > 0 {
		out.Checksum = &attributesChecksum{
			ChecksumCRC32:     info.Checksums["crc32"],
			ChecksumCRC32C:    info.Checksums["crc32c"],
			ChecksumCRC64NVME: info.Checksums["crc64nvme"],
			ChecksumSHA1:      info.Checksums["sha1"],
			ChecksumSHA256:    info.Checksums["sha256"],
			ChecksumType:      "FULL_OBJECT",
		}
	}
	if want["StorageClass"] {
		out.StorageClass = "STANDARD"
	}
	if want["ObjectSize"] {
		out.ObjectSize = &info.Size
	}
	w.Header().Set("Last-Modified", info.LastModified.UTC().Format(http.TimeFormat))
	s.writeXML(w, http.StatusOK, out)
}
