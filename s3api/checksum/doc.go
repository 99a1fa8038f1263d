// Package checksum names the integrity algorithms S3 speaks and hashes a
// stream with several of them in one pass.
//
// S3 accepts a body checksum in an x-amz-checksum-<algorithm> header or
// trailer for CRC32 (IEEE), CRC32C (Castagnoli), CRC64NVME, SHA1 and SHA256,
// and an MD5 in Content-MD5. On the wire every value is the standard base64
// of the big-endian digest bytes (a CRC32 is 4 bytes, so 8 base64 characters;
// CRC64NVME is 8 bytes). The ETag of a single-part object is the hex MD5.
//
// [Algorithm] is the vocabulary: [ParseAlgorithm] accepts the names clients
// put in x-amz-checksum-algorithm or x-amz-sdk-checksum-algorithm,
// [FromHeader] the header or trailer names. [Set] hashes an upload once for
// the ETag, the optional SHA256 and any requested checksums.
//
// CRC64NVME is the reflected CRC-64 with polynomial 0xad93d23594c93659 (NVM
// Express), initial value and final XOR all ones; it is computed with
// github.com/minio/crc64nvme, which uses carry-less multiplication where the
// CPU has it. The tests check it against hash/crc64 and against the AWS SDK.
package checksum
