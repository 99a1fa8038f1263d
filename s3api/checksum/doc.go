// Package checksum names the integrity algorithms S3 speaks and hashes a
// stream with several of them in one pass.
//
// S3 accepts a body checksum in an x-amz-checksum-<algorithm> header or
// trailer for CRC32 (IEEE), CRC32C (Castagnoli), CRC64NVME, MD5, SHA1,
// SHA256 and, since April 2026, SHA512, XXHASH64 (XXH64), XXHASH3 (XXH3
// 64-bit) and XXHASH128 (XXH3 128-bit), all with seed 0. An MD5 may also
// come in Content-MD5, which is not one of those headers: it is checked but
// not stored as the object's checksum. On the wire every value is the
// standard base64 of the big-endian digest bytes (a CRC32 is 4 bytes, so 8
// base64 characters; CRC64NVME and the 64-bit xxHashes are 8; XXHASH128 is
// the high 64 bits then the low 64, the xxHash canonical form). The ETag
// of a single-part object is the hex MD5.
//
// [Algorithm] is the vocabulary: [ParseAlgorithm] accepts the names clients
// put in x-amz-checksum-algorithm or x-amz-sdk-checksum-algorithm,
// [FromHeader] the header or trailer names. [Set] hashes an upload once for
// the ETag, the optional SHA256 and any requested checksums.
//
// Multipart objects combine their parts' checksums: [CombineFull] for the
// FULL_OBJECT type (the CRCs only) and [Composite] for COMPOSITE (every
// algorithm but CRC64NVME).
//
// CRC64NVME is the reflected CRC-64 with polynomial 0xad93d23594c93659 (NVM
// Express), initial value and final XOR all ones; it is computed with
// github.com/minio/crc64nvme, which uses carry-less multiplication where the
// CPU has it. The tests check it against hash/crc64 and against the AWS SDK.
package checksum
