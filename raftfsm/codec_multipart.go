package raftfsm

import (
	"encoding/binary"
	"fmt"

	"github.com/strongboxdb/strongbox/objstore"
)

// Encodings of multipart uploads: the payloads of the four multipart
// commands and the upload and part records they store.

const uploadRecordVersion = 1

// appendUploadFields appends what CreateMultipartUpload fixes for the
// future object. Bucket, Key, UploadID and Initiated are encoded (or
// stored) separately.
func appendUploadFields(b []byte, u *objstore.Upload) []byte {
	b = appendString(b, u.ContentType)
	b = appendMap(b, u.Headers)
	b = appendMap(b, u.UserMeta)
	b = appendMap(b, u.Tags)
	b = appendString(b, u.ChecksumAlgorithm)
	return appendString(b, u.ChecksumType)
}

func uploadFieldsSize(u *objstore.Upload) int {
	return 3*binary.MaxVarintLen64 + len(u.ContentType) + mapSize(u.Headers) + mapSize(u.UserMeta) +
		mapSize(u.Tags) + len(u.ChecksumAlgorithm) + len(u.ChecksumType)
}

func (d *decoder) uploadFields(u *objstore.Upload) {
	u.ContentType = d.string()
	u.Headers = d.stringMap()
	u.UserMeta = d.stringMap()
	u.Tags = d.stringMap()
	u.ChecksumAlgorithm = d.string()
	u.ChecksumType = d.string()
}

// appendUploadRecord encodes the stored upload; its bucket, key and ID are
// in the bbolt key.
func appendUploadRecord(b []byte, u *objstore.Upload) []byte {
	b = append(b, uploadRecordVersion)
	b = appendTime(b, u.Initiated)
	return appendUploadFields(b, u)
}

func decodeUploadRecord(bucket, key, uploadID string, v []byte) (objstore.Upload, error) {
	d := decoder{b: v}
	u := objstore.Upload{Bucket: bucket, Key: key, UploadID: uploadID}
	if ver := d.byte(); d.err == nil && ver != uploadRecordVersion {
		return u, fmt.Errorf("raftfsm: upload record %q: unsupported version %d", uploadID, ver)
	}
	u.Initiated = unixTime(d.varint())
	d.uploadFields(&u)
	if err := d.done(); err != nil {
		return u, fmt.Errorf("raftfsm: upload record %q: %w", uploadID, err)
	}
	return u, nil
}

// appendPartRecord encodes a stored part: version, upload time, blob.
func appendPartRecord(b []byte, p *objstore.PartInfo) []byte {
	b = append(b, uploadRecordVersion)
	b = appendTime(b, p.LastModified)
	return appendBlobRef(b, &p.Blob)
}

func decodePartRecord(number int, v []byte) (objstore.PartInfo, error) {
	d := decoder{b: v}
	p := objstore.PartInfo{PartNumber: number}
	if ver := d.byte(); d.err == nil && ver != uploadRecordVersion {
		return p, fmt.Errorf("raftfsm: part record %d: unsupported version %d", number, ver)
	}
	p.LastModified = unixTime(d.varint())
	p.Blob = d.blobRef()
	if err := d.done(); err != nil {
		return p, fmt.Errorf("raftfsm: part record %d: %w", number, err)
	}
	return p, nil
}

// appendCompleteParts appends the part list of a Complete command.
func appendCompleteParts(b []byte, parts []objstore.CompletePart) []byte {
	b = binary.AppendUvarint(b, uint64(len(parts)))
	for i := range parts {
		b = binary.AppendUvarint(b, uint64(parts[i].PartNumber))
		b = appendString(b, parts[i].ETag)
		b = appendMap(b, parts[i].Checksums)
	}
	return b
}

func completePartsSize(parts []objstore.CompletePart) int {
	n := binary.MaxVarintLen64
	for i := range parts {
		n += 2*binary.MaxVarintLen64 + len(parts[i].ETag) + mapSize(parts[i].Checksums)
	}
	return n
}

func (d *decoder) completeParts() []objstore.CompletePart {
	n := d.count(3) // number, empty etag, empty map
	if n == 0 {
		return nil
	}
	out := make([]objstore.CompletePart, 0, n)
	for range n {
		out = append(out, objstore.CompletePart{
			PartNumber: d.bounded(objstore.MaxParts + 1),
			ETag:       d.string(),
			Checksums:  d.stringMap(),
		})
	}
	if d.err != nil {
		return nil
	}
	return out
}

// appendOptionalBlob appends a presence byte and, when present, the ref.
func appendOptionalBlob(b []byte, r *objstore.BlobRef) []byte {
	if r == nil {
		return append(b, 0)
	}
	return appendBlobRef(append(b, 1), r)
}

func (d *decoder) optionalBlob() *objstore.BlobRef {
	switch d.byte() {
	case 0:
		return nil
	case 1:
		r := d.blobRef()
		return &r
	}
	d.fail(fmt.Errorf("bad blob presence byte"))
	return nil
}

// appendBool appends a flag as one byte, 0 or 1.
func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// bool decodes appendBool's byte; any other value is corrupt input.
func (d *decoder) bool() bool {
	switch d.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail(fmt.Errorf("bad flag byte"))
	return false
}
