package s3api

import (
	"encoding/xml"
	"errors"
	"io"
	"net/http"
)

func (s *Server) listBuckets(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.opContext(r)
	defer cancel()
	buckets, err := s.backend.ListBuckets(ctx)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := listAllMyBucketsResult{Xmlns: s3Namespace, Owner: defaultOwner, Buckets: []bucketEntry{}}
	for _, b := range buckets {
		out.Buckets = append(out.Buckets, bucketEntry{Name: b.Name, CreationDate: xmlTime(b.Created)})
	}
	s.writeXML(w, http.StatusOK, out)
}

// maxBucketConfig bounds the CreateBucketConfiguration body we are willing
// to read; the real document is well under 1 KiB.
const maxBucketConfig = 64 << 10

func (s *Server) createBucket(w http.ResponseWriter, r *http.Request) {
	bucket, _ := pathVars(r)
	if !validBucketName(bucket) {
		s.writeError(w, r, ErrInvalidBucketName)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBucketConfig+1))
	if err != nil {
		s.writeError(w, r, bodyReadError(err))
		return
	}
	if len(body) > maxBucketConfig {
		s.writeError(w, r, ErrMalformedXML)
		return
	}
	if len(body) > 0 {
		var cfg createBucketConfiguration
		if err := xml.Unmarshal(body, &cfg); err != nil {
			s.writeError(w, r, ErrMalformedXML)
			return
		}
		// S3 rejects an explicit us-east-1 constraint. Any other region is
		// accepted: a local stand-in should not fail a client configured for
		// eu-west-1 (awscli sends its region as the constraint). Every bucket
		// lives in this node's Region regardless; the README says so.
		if cfg.LocationConstraint == "us-east-1" {
			s.writeError(w, r, ErrInvalidLocationConstraint)
			return
		}
	}
	ctx, cancel := s.opContext(r)
	defer cancel()
	if err := s.backend.CreateBucket(ctx, bucket); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/"+bucket)
	w.WriteHeader(http.StatusOK)
}

func (s *Server) headBucket(w http.ResponseWriter, r *http.Request) {
	bucket, _ := pathVars(r)
	ctx, cancel := s.opContext(r)
	defer cancel()
	if _, err := s.backend.HeadBucket(ctx, bucket); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("x-amz-bucket-region", s.opts.Region)
	w.WriteHeader(http.StatusOK)
}

func (s *Server) deleteBucket(w http.ResponseWriter, r *http.Request) {
	bucket, _ := pathVars(r)
	ctx, cancel := s.opContext(r)
	defer cancel()
	if err := s.backend.DeleteBucket(ctx, bucket); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) getBucketLocation(w http.ResponseWriter, r *http.Request) {
	bucket, _ := pathVars(r)
	ctx, cancel := s.opContext(r)
	defer cancel()
	if _, err := s.backend.HeadBucket(ctx, bucket); err != nil {
		s.writeError(w, r, err)
		return
	}
	// S3 reports us-east-1 as an empty constraint.
	loc := s.opts.Region
	if loc == "us-east-1" {
		loc = ""
	}
	s.writeXML(w, http.StatusOK, locationConstraint{Xmlns: s3Namespace, Value: loc})
}

func (s *Server) getBucketVersioning(w http.ResponseWriter, r *http.Request) {
	bucket, _ := pathVars(r)
	ctx, cancel := s.opContext(r)
	defer cancel()
	if _, err := s.backend.HeadBucket(ctx, bucket); err != nil {
		s.writeError(w, r, err)
		return
	}
	// Versioning was never enabled: S3 returns an empty configuration.
	s.writeXML(w, http.StatusOK, versioningConfiguration{Xmlns: s3Namespace})
}

// bodyReadError keeps an S3-coded verification failure from the signature
// layer (bad chunk signature, checksum mismatch) and reports anything else
// as an incomplete body: the client hung up or sent less than it promised.
func bodyReadError(err error) error {
	if e := toAPIError(err); e != ErrInternal {
		return e
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrIncompleteBody
	}
	return ErrIncompleteBody.with("The request body could not be read: " + err.Error())
}
