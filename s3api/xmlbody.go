package s3api

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strings"
)

// readXMLBody reads the XML document of a configuration or batch request
// (DeleteObjects, PutObjectTagging, PutBucketCors) and checks its
// integrity. S3 requires these requests to carry Content-MD5 or an
// x-amz-checksum-* value (current SDKs send a CRC32, as a header or as an
// aws-chunked trailer); with neither it answers InvalidRequest "Missing
// required header for this request: Content-MD5". Every digest that is
// present is verified (BadDigest); trailers were verified by the signature
// layer by the time the body reached EOF.
//
// A body longer than limit is refused with MalformedXML: every such
// document has a schema-imposed maximum far below it. The whole body is
// read before any check that needs it, so the connection stays usable.
func readXMLBody(r *http.Request, limit int64) ([]byte, error) {
	auth := authOf(r)
	wantMD5, err := contentMD5(r.Header)
	if err != nil {
		return nil, err
	}
	headerSums, err := checksumHeaders(r.Header)
	if err != nil {
		return nil, err
	}
	size := auth.DecodedContentLength
	if size > limit {
		return nil, ErrMalformedXML
	}
	body, err := readBody(r.Body, size, limit)
	if err == ErrEntityTooLarge {
		return nil, ErrMalformedXML
	}
	if err != nil {
		return nil, err
	}
	if wantMD5 == nil && len(headerSums) == 0 && len(auth.TrailerChecksums()) == 0 {
		return nil, ErrMissingContentMD5
	}
	if wantMD5 != nil {
		if sum := md5.Sum(body); !bytes.Equal(wantMD5, sum[:]) {
			return nil, ErrBadDigest
		}
	}
	for alg, want := range headerSums {
		if alg.Of(body) != want {
			return nil, ErrBadDigest.with("The " + strings.ToUpper(alg.String()) + " you specified did not match the calculated checksum.")
		}
	}
	return body, nil
}

// maxXMLPiece bounds each piece of a list document (DeleteObjects,
// CompleteMultipartUpload): one child of the root (an <Object>, a <Part>),
// or one run of text, comment or declaration around them. encoding/xml
// keeps every open element and every attribute of an element in memory, at
// 20 to 60 times their size in the body, so a few MiB of "<a><a><a>..."
// would cost hundreds of MiB; cut into pieces of 64 KiB, a document costs
// the decoder a few MiB whatever its size. Pieces clients send are well
// under 1 KiB.
const maxXMLPiece = 64 << 10

var errXMLPiece = errors.New("s3api: XML piece too large")

// pieceReader is an xml.Decoder's source. The decoder reads through
// ReadByte when its source has one, so every byte it takes is counted
// here, and it fails once the current piece passes maxXMLPiece.
type pieceReader struct {
	r io.ByteReader
	n int
}

func (p *pieceReader) ReadByte() (byte, error) {
	if p.n >= maxXMLPiece {
		return 0, errXMLPiece
	}
	p.n++
	return p.r.ReadByte()
}

// Read makes pieceReader an io.Reader; encoding/xml only calls ReadByte.
func (p *pieceReader) Read(b []byte) (int, error) {
	for i := range b {
		c, err := p.ReadByte()
		if err != nil {
			return i, err
		}
		b[i] = c
	}
	return len(b), nil
}

// decodeXMLList parses a list document from src: a root element named
// root (in any namespace) whose child elements are handed one at a time to
// child, which must consume the element it is given (d.DecodeElement or
// d.Skip). Only white space, comments, processing instructions and
// directives may come before and after the root, text between its
// children is ignored, and each piece may take maxXMLPiece bytes. An
// *APIError from child is returned as it is, any other error from child
// (a decoding error) and any malformation is ErrMalformedXML. src is read
// no further than the decoder needed.
func decodeXMLList(src io.Reader, root string, child func(d *xml.Decoder, start *xml.StartElement) error) error {
	br, ok := src.(io.ByteReader)
	if !ok {
		br = bufio.NewReader(src)
	}
	pr := &pieceReader{r: br}
	d := xml.NewDecoder(pr)
	next := func() (xml.Token, error) {
		pr.n = 0
		return d.Token()
	}
	// The prolog, then the root.
	for {
		tok, err := next()
		if err != nil {
			return ErrMalformedXML
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != root {
				return ErrMalformedXML
			}
			break
		}
		if cd, ok := tok.(xml.CharData); ok && len(bytes.TrimSpace(cd)) != 0 {
			return ErrMalformedXML
		}
	}
	for {
		tok, err := next()
		if err != nil {
			return ErrMalformedXML
		}
		if _, ok := tok.(xml.EndElement); ok {
			break // the root's end: the decoder checks nesting
		}
		if se, ok := tok.(xml.StartElement); ok {
			if err := child(d, &se); err != nil {
				if e, ok := err.(*APIError); ok {
					return e
				}
				return ErrMalformedXML
			}
		}
	}
	for {
		tok, err := next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return ErrMalformedXML
		}
		switch t := tok.(type) {
		case xml.Comment, xml.ProcInst:
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return ErrMalformedXML
			}
		default:
			return ErrMalformedXML
		}
	}
}
