package s3api

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"

	"github.com/strongboxdb/strongbox/objstore"
	"github.com/strongboxdb/strongbox/s3api/checksum"
)

// GetObjectAttributes: GET /bucket/key?attributes with the attribute names
// in x-amz-object-attributes. ObjectParts is answered for multipart
// objects only (S3 leaves it out for an object written in one piece): the
// number of parts, and, when the object carries checksums, one page of
// parts (x-amz-max-parts, x-amz-part-number-marker) with each part's size
// and checksum.

type objectAttributesResponse struct {
	XMLName      xml.Name            `xml:"GetObjectAttributesResponse"`
	Xmlns        string              `xml:"xmlns,attr"`
	ETag         string              `xml:"ETag,omitempty"`
	Checksum     *attributesChecksum `xml:"Checksum,omitempty"`
	ObjectParts  *attributesParts    `xml:"ObjectParts,omitempty"`
	StorageClass string              `xml:"StorageClass,omitempty"`
	ObjectSize   *int64              `xml:"ObjectSize,omitempty"`
}

type attributesChecksum struct {
	checksumFields
	ChecksumType string `xml:"ChecksumType"`
}

// attributesParts is GetObjectAttributesParts. Its element names are the
// wire's (PartsCount, and a flat list of Part), not the SDKs' field names.
type attributesParts struct {
	PartsCount           int              `xml:"PartsCount"`
	PartNumberMarker     *int             `xml:"PartNumberMarker,omitempty"`
	NextPartNumberMarker *int             `xml:"NextPartNumberMarker,omitempty"`
	MaxParts             *int             `xml:"MaxParts,omitempty"`
	IsTruncated          *bool            `xml:"IsTruncated,omitempty"`
	Parts                []attributesPart `xml:"Part"`
}

type attributesPart struct {
	PartNumber int   `xml:"PartNumber"`
	Size       int64 `xml:"Size"`
	checksumFields
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
	// The page of parts is chosen with headers here, not query parameters.
	q := url.Values{}
	if v := r.Header.Get("X-Amz-Max-Parts"); v != "" {
		q.Set("max-parts", v)
	}
	if v := r.Header.Get("X-Amz-Part-Number-Marker"); v != "" {
		q.Set("part-number-marker", v)
	}
	page, err := parseListPartsParams(q)
	if err != nil {
		// S3 ignores a value it cannot use here.
		page = listPartsParams{maxParts: maxListParts}
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
		out.Checksum = &attributesChecksum{checksumFields: checksumXML(info.Checksums), ChecksumType: info.ChecksumType}
		if info.ChecksumType == objstore.ChecksumComposite {
			// S3 reports a composite checksum here without the -N part
			// count that Complete, HEAD and GET append (observed on S3;
			// the part count is in ObjectParts).
			for _, alg := range checksum.All() {
				f := out.Checksum.field(alg)
				*f = checksum.TrimPartCount(*f)
			}
		}
		if out.Checksum.ChecksumType == "" {
			out.Checksum.ChecksumType = objstore.ChecksumFullObject
		}
	}
	if want["ObjectParts"] && info.PartsCount > 0 {
		out.ObjectParts = objectParts(info, page)
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

// objectParts describes a multipart object's parts. The list itself is
// returned only when the object has checksums, as S3 does for general
// purpose buckets; it shows each part's values of the object's algorithms.
func objectParts(info objstore.ObjectInfo, page listPartsParams) *attributesParts {
	out := &attributesParts{PartsCount: info.PartsCount}
	if len(info.Checksums) == 0 || len(info.Blobs) != info.PartsCount {
		return out
	}
	next, truncated := page.marker, false
	for i, b := range info.Blobs {
		n := i + 1
		if n <= page.marker {
			continue
		}
		if len(out.Parts) == page.maxParts {
			truncated = page.maxParts > 0
			break
		}
		sums := map[string]string{}
		for alg := range info.Checksums {
			if v, ok := b.Checksums[alg]; ok {
				sums[alg] = v
			}
		}
		out.Parts = append(out.Parts, attributesPart{PartNumber: n, Size: b.Size, checksumFields: checksumXML(sums)})
		next = n
	}
	out.PartNumberMarker = &page.marker
	out.NextPartNumberMarker = &next
	out.MaxParts = &page.maxParts
	out.IsTruncated = &truncated
	return out
}
