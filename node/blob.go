package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/strongboxdb/strongbox/blobstore"
	"github.com/strongboxdb/strongbox/objstore"
	"github.com/strongboxdb/strongbox/s3api/checksum"
)

// Large-object data path: blob storage, replication and fetch between
// nodes. The design and how it is wired into the state machine are in
// blobstore's package doc.
//
// Internal endpoints (authenticated cluster transport, registered by
// registerBlobRoutes):
//
//	PUT    /rpc/blob/{id}  store a replica; size and MD5 in headers or trailers;
//	                       200 only after the blob is verified and fsynced
//	GET    /rpc/blob/{id}  stream a blob, every chunk verified; "Range: bytes=a-b" or
//	                       "bytes=a-" for one range; size and MD5 headers, if sent,
//	                       say what the blob should be (to verify an old copy, repair)
//	DELETE /rpc/blob/{id}  remove a replica (idempotent)

// Headers of the blob RPCs. On PUT they may be sent as trailers instead,
// when the sender streams a blob it is still receiving.
const (
	hdrBlobSize = "X-Strongbox-Blob-Size"
	hdrBlobMD5  = "X-Strongbox-Blob-Md5" // lowercase hex
	// hdrBlobRepair marks a fetch made to replace a corrupt copy. A peer
	// whose own copy is corrupt repairs it when a read finds that out,
	// but not when a repair does: with every copy corrupt, repairs asking
	// each other would otherwise set each other off without end.
	hdrBlobRepair = "X-Strongbox-Blob-Repair"
)

// Bounds of the blob data path. Each stream holds at most one
// blobstore.BufferSize buffer (1 MiB) plus the HTTP stack's small ones, so
// these bound the memory of the data path to about
// (Config.MaxBlobStreams + maxBlobInbound + maxBlobServes + maxBlobFetches)
// MiB.
const (
	maxBlobInbound = 32 // concurrent replicas being received from peers
	maxBlobServes  = 32 // concurrent blob reads served to peers
	maxBlobFetches = 16 // concurrent fetches from peers (OpenBlob misses, FetchBlob, heals)
	maxBlobHeals   = 4  // of those, background heals started by range reads

	// blobStoreWait is how long an upload waits for one of the
	// Config.MaxBlobStreams slots before it is shed with SlowDown: a burst of
	// uploads (32 clients of 1 MiB objects) queues briefly instead of
	// half of it being refused. The client's body waits in TCP buffers
	// meanwhile; the S3 front end bounds how many requests can wait.
	blobStoreWait = 10 * time.Second

	// maxBlobSize caps a replica whose sender did not announce its size:
	// S3's largest single PUT and largest part.
	maxBlobSize = 5 << 30

	// blobBackgroundTimeout bounds a replication that continues after
	// StoreBlob returned, and a background heal.
	blobBackgroundTimeout = 30 * time.Minute
)

// blobStallTimeout fails a transfer whose peer makes no progress for this
// long: a SIGSTOPped or wedged node never closes its TCP connections, and
// a blob transfer has no overall deadline. A variable so tests can
// shorten it.
var blobStallTimeout = 30 * time.Second

// orderBlobPeers decides the order in which a fetch tries the peers:
// random, so that a peer serving corrupt or slow copies is not always
// the first asked. A variable so tests can make it deterministic.
var orderBlobPeers = func(peers []raft.Server) {
	rand.Shuffle(len(peers), func(i, j int) { peers[i], peers[j] = peers[j], peers[i] })
}

var (
	errBlobQuorumLost = errors.New("not enough voters can store the blob")
	errBlobStalled    = errors.New("peer made no progress")
)

// BlobRef is the reference StoreBlob returns and OpenBlob takes; see
// objstore.BlobRef.
type BlobRef = objstore.BlobRef

// blobService is one node's blob state: the local store, the bounds and
// the background work. Start creates it (removing leftover temporary files
// before the node serves anything); Close stops it.
type blobService struct {
	store    *blobstore.Store
	openErr  error
	log      func(msg string, args ...any) // warnings
	logError func(msg string, args ...any) // damage: a corrupt copy
	disk     *diskWatch                    // the store's directory (disk.go)

	stores, inbound, serves, fetches chan struct{} // semaphores

	// Lifetime: enter/leave bracket every operation that touches the
	// store; stop refuses new ones, cancels background work and waits.
	mu       sync.RWMutex
	stopping bool
	active   sync.WaitGroup
	stopCh   chan struct{} // closed by stop
	stopped  chan struct{} // closed once stop has waited for everything

	healMu  sync.Mutex
	healing map[string]struct{}

	// replicating maps the ID of each blob whose replication continues
	// after StoreBlob returned to the cancel of that replication, so that
	// DiscardBlob stops it before removing the peers' copies (else a copy
	// landing after the delete would stay until orphan collection).
	repMu       sync.Mutex
	replicating map[string]context.CancelFunc

	// held counts, per blob ID, the open object reads using it; deferred
	// lists held blobs to remove when their last hold ends (blobgc.go).
	heldMu   sync.Mutex
	held     map[string]int
	deferred map[string]struct{}
}

// newBlobService opens the node's blob store under DataDir/blobs. A store
// that cannot be opened leaves the service answering "unavailable" rather
// than failing the node: small objects do not need it.
func newBlobService(n *Node) *blobService {
	b := &blobService{
		log: func(msg string, args ...any) { n.cfg.Logger.Warn(msg, append(args, "node", n.cfg.ID)...) },
		logError: func(msg string, args ...any) {
			n.cfg.Logger.Error(msg, append(args, "node", n.cfg.ID)...)
		},
		disk:    n.disk.blobs,
		stores:  make(chan struct{}, n.cfg.MaxBlobStreams),
		inbound: make(chan struct{}, maxBlobInbound),
		serves:  make(chan struct{}, maxBlobServes),
		fetches: make(chan struct{}, maxBlobFetches),
		stopCh:  make(chan struct{}),
		stopped: make(chan struct{}),
		healing: map[string]struct{}{},

		replicating: map[string]context.CancelFunc{},
		held:        map[string]int{},
		deferred:    map[string]struct{}{},
	}
	b.store, b.openErr = blobstore.OpenWith(filepath.Join(n.cfg.DataDir, "blobs"), blobstore.Options{MinFree: minFreeSpace(n.cfg)})
	if b.openErr != nil {
		n.cfg.Logger.Error("blob store unavailable", "err", b.openErr)
	}
	return b
}

// blobs returns the node's blob service.
func (n *Node) blobs() *blobService { return n.blob }

// enter registers an operation; false once the service is stopping.
func (b *blobService) enter() bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.stopping || b.openErr != nil {
		return false
	}
	b.active.Add(1)
	return true
}

func (b *blobService) leave() { b.active.Done() }

func (b *blobService) unavailable() error {
	if b.openErr != nil {
		return fmt.Errorf("%w: blob store: %v", objstore.ErrUnavailable, b.openErr)
	}
	return fmt.Errorf("%w: node shutting down", objstore.ErrUnavailable)
}

func (b *blobService) stop() {
	b.mu.Lock()
	already := b.stopping
	b.stopping = true
	b.mu.Unlock()
	if already {
		<-b.stopped
		return
	}
	close(b.stopCh)
	b.active.Wait()
	close(b.stopped)
}

// background returns a context for work that outlives the request that
// started it: bounded by timeout and cancelled when the node stops.
func (b *blobService) background(timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	go func() {
		select {
		case <-b.stopCh:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

func tryAcquire(sem chan struct{}) bool {
	select {
	case sem <- struct{}{}:
		return true
	default:
		return false
	}
}

// acquireWithin takes a slot of sem, waiting at most wait (or until ctx
// ends) for one to free up.
func acquireWithin(ctx context.Context, sem chan struct{}, wait time.Duration) bool {
	if tryAcquire(sem) {
		return true
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case sem <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

func release(sem chan struct{}) { <-sem }

// registerBlobRoutes mounts the blob RPCs on the internal handler.
func (n *Node) registerBlobRoutes(m *http.ServeMux) {
	n.blobs()
	m.HandleFunc("PUT /rpc/blob/{id}", n.handlePutBlob)
	m.HandleFunc("GET /rpc/blob/{id}", n.handleGetBlob)
	m.HandleFunc("DELETE /rpc/blob/{id}", n.handleDeleteBlob)
}

// HasBlob reports whether this node holds the blob.
func (n *Node) HasBlob(id string) bool {
	b := n.blobs()
	return b.openErr == nil && b.store.Has(id)
}

// BlobStats returns the number and total size of the blobs on this node.
func (n *Node) BlobStats() blobstore.Stats {
	b := n.blobs()
	if b.openErr != nil {
		return blobstore.Stats{}
	}
	return b.store.Stats()
}

// StoreBlob stores the bytes of r (at most limit bytes; limit <= 0 means
// maxBlobSize) as a new blob and returns once a majority of the current
// voters, this node included if it is one, hold it durably. It computes
// MD5 and the S3 checksums in algs while writing.
//
// The body is written to a local temporary file and, at the same time,
// streamed from that file to every other voter (blobstore.Writer.Follow):
// replication runs as fast as the client uploads, yet a slow peer never
// slows the client down or makes this node buffer in memory. Peers verify
// size and MD5 (sent as HTTP trailers) and answer after their fsync.
// StoreBlob returns as soon as the quorum is reached; replication to the
// remaining voters continues in the background, so that usually every
// node ends up with the blob and reads need no fetch.
//
// Errors: objstore.ErrSlowDown when MaxBlobStreams uploads were in
// progress for all of blobStoreWait; objstore.ErrUnavailable when a majority cannot be reached (the
// upload stops as soon as that is certain); blobstore.ErrTooLarge past the
// limit; the reader's or ctx's error. On any error the blob is removed
// from this node and, best-effort, from the peers; the orphan collection
// (CollectBlobs) removes any copy that a peer could not be told about.
func (n *Node) StoreBlob(ctx context.Context, r io.Reader, limit int64, algs ...checksum.Algorithm) (BlobRef, error) {
	if err := n.Failure(); err != nil {
		return BlobRef{}, err // the proposal that would reference it cannot succeed
	}
	b := n.blobs()
	if !b.enter() {
		return BlobRef{}, b.unavailable()
	}
	defer b.leave()
	if !acquireWithin(ctx, b.stores, blobStoreWait) {
		return BlobRef{}, fmt.Errorf("%w: %d blob uploads in progress", objstore.ErrSlowDown, cap(b.stores))
	}
	defer release(b.stores)
	if limit <= 0 {
		limit = maxBlobSize
	}
	peers, need := n.blobQuorum()

	w, err := b.store.Create(blobstore.CreateOptions{Limit: limit, Checksums: algs})
	if err != nil {
		if derr := b.disk.failed(err); derr != nil {
			return BlobRef{}, derr
		}
		return BlobRef{}, err
	}
	defer w.Abort() // no-op once committed

	// writeCtx stops the local write early once a quorum is out of reach.
	writeCtx, stopWrite := context.WithCancelCause(ctx)
	defer stopWrite(nil)
	q := newQuorum(need, len(peers), func() { stopWrite(errBlobQuorumLost) })

	// Replication outlives this call on success: its context is the
	// service's, linked to ctx only until the quorum is reached.
	repCtx, cancelRep := b.background(blobBackgroundTimeout)
	unlink := context.AfterFunc(ctx, cancelRep)
	for _, p := range peers {
		fol, err := w.Follow()
		if err != nil {
			q.record(fmt.Errorf("%s: %w", p.ID, err))
			continue
		}
		if !b.enter() {
			fol.Close()
			q.record(fmt.Errorf("%s: %w", p.ID, b.unavailable()))
			continue
		}
		go func() {
			defer b.leave()
			defer fol.Close()
			err := n.sendBlob(repCtx, string(p.Address), w.ID(), fol, -1, "", w.Sealed)
			if err != nil {
				err = fmt.Errorf("%s: %w", p.ID, err)
			}
			q.record(err)
		}()
	}
	b.repMu.Lock()
	b.replicating[w.ID()] = cancelRep
	b.repMu.Unlock()
	go func() {
		<-q.allDone
		cancelRep()
		b.repMu.Lock()
		delete(b.replicating, w.ID())
		b.repMu.Unlock()
	}()

	// Once sealed, peers may commit their copy: a failure from then on
	// must remove it from them too.
	sealed := false
	fail := func(err error) (BlobRef, error) {
		unlink()
		cancelRep()
		if sealed {
			n.discardBlob(b, w.ID(), peers)
		}
		if ctx.Err() != nil {
			return BlobRef{}, ctx.Err()
		}
		if derr := b.disk.failed(err); derr != nil {
			return BlobRef{}, derr // our own disk: the peers' copies are being discarded
		}
		if errors.Is(err, errBlobQuorumLost) {
			return BlobRef{}, fmt.Errorf("%w: blob replication: %v", q.sentinel(), q.summary())
		}
		return BlobRef{}, err
	}
	if _, err := w.ReadFrom(blobstore.ContextReader(writeCtx, r)); err != nil {
		if errors.Is(err, blobstore.ErrTooLarge) {
			err = fmt.Errorf("%w: %w", objstore.ErrEntityTooLarge, err)
		}
		return fail(err)
	}
	sealed = true
	info, err := w.Commit()
	if err != nil {
		return fail(err)
	}
	b.disk.ok()
	if !q.wait(ctx) {
		return fail(errBlobQuorumLost)
	}
	unlink()
	return BlobRef{ID: info.ID, Size: info.Size, MD5: info.MD5Hex(), Checksums: info.Checksums}, nil
}

// blobQuorum returns the voters other than this node and how many of them
// must acknowledge a blob for a majority of all voters to hold it.
func (n *Node) blobQuorum() (peers []raft.Server, need int) {
	voters := n.voters()
	need = len(voters)/2 + 1
	for _, s := range voters {
		if string(s.ID) == n.cfg.ID {
			need--
			continue
		}
		peers = append(peers, s)
	}
	return peers, need
}

// quorum counts replication outcomes: decided closes once the quorum is
// reached or out of reach, allDone once every peer has answered.
type quorum struct {
	mu      sync.Mutex
	need    int // acknowledgements required
	pending int // peers that have not answered
	acked   int
	errs    []error
	done    bool
	reached bool
	decided chan struct{}
	allDone chan struct{}
	onLost  func()
}

func newQuorum(need, peers int, onLost func()) *quorum {
	q := &quorum{need: need, pending: peers, decided: make(chan struct{}), allDone: make(chan struct{}), onLost: onLost}
	q.decide()
	if peers == 0 {
		close(q.allDone)
	}
	return q
}

// decide closes decided when the outcome is certain. mu must be held (or
// q not yet shared).
func (q *quorum) decide() {
	if q.done {
		return
	}
	switch {
	case q.acked >= q.need:
		q.reached = true
	case q.acked+q.pending < q.need:
		q.onLost()
	default:
		return
	}
	q.done = true
	close(q.decided)
}

func (q *quorum) record(err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pending--
	if err == nil {
		q.acked++
	} else {
		q.errs = append(q.errs, err)
	}
	q.decide()
	if q.pending == 0 {
		close(q.allDone)
	}
}

// wait reports whether the quorum was reached, false if it cannot be or
// ctx ended first.
func (q *quorum) wait(ctx context.Context) bool {
	select {
	case <-q.decided:
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.reached
	case <-ctx.Done():
		return false
	}
}

// sentinel says why the quorum was lost, from the peers' errors: a peer
// out of disk space (or read-only) is named as such, so the client learns
// the cause; peers that shed the replica were busy, not gone, so the
// client is asked to back off rather than told of an outage.
func (q *quorum) sentinel() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	all := errors.Join(q.errs...)
	for _, s := range []error{objstore.ErrNoSpace, objstore.ErrReadOnly, objstore.ErrSlowDown} {
		if errors.Is(all, s) {
			return s
		}
	}
	return objstore.ErrUnavailable
}

func (q *quorum) summary() string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return fmt.Sprintf("%d peer acknowledgements of %d needed: %v", q.acked, q.need, errors.Join(q.errs...))
}

// sendBlob streams one blob to the peer at addr. With size < 0 the body is
// a blob still being written: it is sent chunked and its size and MD5
// follow as trailers, taken from sealed once the body ends. Otherwise size
// and md5Hex go in the headers.
func (n *Node) sendBlob(ctx context.Context, addr, id string, body io.Reader, size int64, md5Hex string, sealed func() (blobstore.Info, bool)) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	wd := newWatchdog(func() { cancel(errBlobStalled) })
	defer wd.stop()
	rd := &sendReader{r: body, wd: wd}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+addr+"/rpc/blob/"+id, rd)
	if err != nil {
		return err
	}
	if size >= 0 {
		req.ContentLength = size
		req.Header.Set(hdrBlobSize, strconv.FormatInt(size, 10))
		req.Header.Set(hdrBlobMD5, md5Hex)
	} else {
		req.ContentLength = -1
		req.Trailer = http.Header{hdrBlobSize: nil, hdrBlobMD5: nil}
		rd.atEOF = func() {
			if info, ok := sealed(); ok {
				req.Trailer.Set(hdrBlobSize, strconv.FormatInt(info.Size, 10))
				req.Trailer.Set(hdrBlobMD5, info.MD5Hex())
			}
		}
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return cmpCause(ctx, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		if resp.StatusCode == http.StatusServiceUnavailable {
			// Shed, out of disk space, read-only or shutting down.
			return outcomeError(resp.Header.Get(hdrOutcome), strings.TrimSpace(string(msg)))
		}
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// sendReader is a request body that runs the stall watchdog only while
// the HTTP stack holds the bytes (writing them to the peer) or waits for
// the peer's answer, not while it waits for the blob's next bytes.
type sendReader struct {
	r     io.Reader
	wd    *watchdog
	atEOF func()
}

func (s *sendReader) Read(p []byte) (int, error) {
	s.wd.pause()
	n, err := s.r.Read(p)
	if err == io.EOF && s.atEOF != nil {
		s.atEOF()
		s.atEOF = nil
	}
	s.wd.kick()
	return n, err
}

// watchdog calls fire when it has been kicked and not paused or kicked
// again for blobStallTimeout.
type watchdog struct{ t *time.Timer }

func newWatchdog(fire func()) *watchdog {
	return &watchdog{t: time.AfterFunc(blobStallTimeout, fire)}
}

func (w *watchdog) kick()  { w.t.Reset(blobStallTimeout) }
func (w *watchdog) pause() { w.t.Stop() }
func (w *watchdog) stop()  { w.t.Stop() }

// admitBlobRPC opens every blob RPC: it checks the path's blob ID, enters
// the blob service and takes a slot of sem (nil: none), answering the
// peer itself when any of that fails (done is then nil). Otherwise the
// handler must call done when it finishes.
func (n *Node) admitBlobRPC(w http.ResponseWriter, r *http.Request, sem chan struct{}, busy string) (id string, b *blobService, done func()) {
	id = r.PathValue("id")
	if !blobstore.ValidID(id) {
		http.Error(w, "bad blob id", http.StatusBadRequest)
		return "", nil, nil
	}
	b = n.blobs()
	if !b.enter() {
		writeOutcome(w, b.unavailable())
		return "", nil, nil
	}
	if sem == nil {
		return id, b, b.leave
	}
	if !tryAcquire(sem) {
		b.leave()
		writeOutcome(w, fmt.Errorf("%w: %d %s", objstore.ErrSlowDown, cap(sem), busy))
		return "", nil, nil
	}
	return id, b, func() { release(sem); b.leave() }
}

// handlePutBlob stores a replica sent by a peer, after checking its size
// and MD5, and answers only once it is durable.
func (n *Node) handlePutBlob(w http.ResponseWriter, r *http.Request) {
	id, b, done := n.admitBlobRPC(w, r, n.blobs().inbound, "blob replicas being received")
	if done == nil {
		return
	}
	defer done()
	if b.store.Has(id) {
		return // a retry or a second sender: blobs never change
	}
	limit := int64(maxBlobSize)
	if v := r.Header.Get(hdrBlobSize); v != "" {
		if size, err := strconv.ParseInt(v, 10, 64); err == nil && size >= 0 && size < limit {
			limit = size
		}
	}
	// A full or read-only disk answers 503 with its own outcome, so the
	// sender can tell its client why; one log line per episode here.
	diskFailed := func(err error) bool {
		if derr := b.disk.failed(err); derr != nil {
			writeOutcome(w, derr)
			return true
		}
		return false
	}
	bw, err := b.store.Create(blobstore.CreateOptions{ID: id, Limit: limit})
	if err != nil {
		if !diskFailed(err) {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
		return
	}
	defer bw.Abort()
	rc := http.NewResponseController(w)
	_, err = bw.ReadFrom(&deadlineReader{r: r.Body, rc: rc})
	_ = rc.SetReadDeadline(time.Time{})
	if err != nil {
		if !diskFailed(err) {
			http.Error(w, "receive blob: "+err.Error(), http.StatusBadRequest)
		}
		return
	}
	sum := bw.Sum()
	wantSize, wantMD5 := r.Header.Get(hdrBlobSize), r.Header.Get(hdrBlobMD5)
	if wantSize == "" && wantMD5 == "" {
		wantSize, wantMD5 = r.Trailer.Get(hdrBlobSize), r.Trailer.Get(hdrBlobMD5)
	}
	if wantSize != strconv.FormatInt(sum.Size, 10) || wantMD5 != sum.MD5Hex() {
		http.Error(w, fmt.Sprintf("blob %s: received %d bytes, md5 %s; sender announced %q bytes, md5 %q", id, sum.Size, sum.MD5Hex(), wantSize, wantMD5), http.StatusBadRequest)
		return
	}
	if _, err := bw.Commit(); err != nil {
		if !diskFailed(err) {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
		return
	}
	b.disk.ok()
}

// deadlineReader moves the connection's read deadline forward before each
// read, so a sender that stops sending frees the handler after
// blobStallTimeout.
type deadlineReader struct {
	r  io.Reader
	rc *http.ResponseController
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	_ = d.rc.SetReadDeadline(time.Now().Add(blobStallTimeout))
	return d.r.Read(p)
}

// deadlineWriter does the same for writes to a reader that stopped reading.
type deadlineWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	_ = d.rc.SetWriteDeadline(time.Now().Add(blobStallTimeout))
	return d.w.Write(p)
}

// handleGetBlob streams a blob, or one range of it, to a peer. Every
// chunk is verified before it is sent (openServed): a copy found corrupt
// when opened is refused with 500, one found corrupt mid-stream breaks
// the transfer off before the bad chunk, and either way the peer moves
// on to another member while this node repairs its copy.
func (n *Node) handleGetBlob(w http.ResponseWriter, r *http.Request) {
	id, b, done := n.admitBlobRPC(w, r, n.blobs().serves, "blob reads being served")
	if done == nil {
		return
	}
	defer done()
	size, err := b.store.Size(id)
	if errors.Is(err, blobstore.ErrNotFound) {
		http.Error(w, "no such blob", http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if ref, known := requestedRef(r, id); known && size != ref.Size {
		err := fmt.Errorf("%w: %s: local copy holds %d bytes, want %d", blobstore.ErrCorrupt, id, size, ref.Size)
		n.corruptServed(b, r, id, err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	off, length, partial, err := parseBlobRange(r.Header.Get("Range"), size)
	if err != nil {
		w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
		http.Error(w, err.Error(), http.StatusRequestedRangeNotSatisfiable)
		return
	}
	body, err := n.openServed(b, r, id, off, length)
	if errors.Is(err, blobstore.ErrNotFound) {
		http.Error(w, "no such blob", http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer body.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set(hdrBlobSize, strconv.FormatInt(size, 10))
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	status := http.StatusOK
	if partial {
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+length-1, size))
		status = http.StatusPartialContent
	}
	if r.Method == http.MethodHead || length == 0 {
		w.WriteHeader(status)
		return
	}
	// The write deadline would outlive this response on a keep-alive
	// connection (the server sets none of its own): clear it when done.
	rc := http.NewResponseController(w)
	defer rc.SetWriteDeadline(time.Time{})
	// The status goes out with the first verified bytes, so that a copy
	// corrupt from its first chunk is refused with a 500 that says so.
	cw := &commitWriter{w: &deadlineWriter{w: w, rc: rc}, commit: func() { w.WriteHeader(status) }}
	_, err = blobstore.Copy(cw, body)
	if errors.Is(err, blobstore.ErrCorrupt) {
		n.corruptServed(b, r, id, err)
	}
	switch {
	case err == nil:
		_ = rc.SetWriteDeadline(time.Now().Add(blobStallTimeout))
		_ = rc.Flush()
	case !cw.committed:
		h.Del("Content-Length")
		h.Del("Content-Range")
		http.Error(w, err.Error(), http.StatusInternalServerError)
	case errors.Is(err, blobstore.ErrCorrupt):
		// Break the connection: the peer must see a failed transfer,
		// not a short body it might take for the end.
		panic(http.ErrAbortHandler)
	}
	// Else the peer stopped reading; the connection is closed anyway
	// (the body is shorter than its Content-Length).
}

// commitWriter calls commit before its first write.
type commitWriter struct {
	w         io.Writer
	commit    func()
	committed bool
}

func (c *commitWriter) Write(p []byte) (int, error) {
	if !c.committed {
		c.committed = true
		c.commit()
	}
	return c.w.Write(p)
}

// parseBlobRange parses the single ranges the blob RPC uses, "bytes=a-b"
// and "bytes=a-"; "" selects the whole blob.
func parseBlobRange(h string, size int64) (off, length int64, partial bool, err error) {
	if h == "" {
		return 0, size, false, nil
	}
	spec, ok := strings.CutPrefix(h, "bytes=")
	first, last, ok2 := strings.Cut(spec, "-")
	if !ok || !ok2 {
		return 0, 0, false, fmt.Errorf("bad range %q", h)
	}
	off, err = strconv.ParseInt(first, 10, 64)
	if err != nil || off < 0 || off >= size {
		return 0, 0, false, fmt.Errorf("range %q outside %d bytes", h, size)
	}
	end := size - 1
	if last != "" {
		if end, err = strconv.ParseInt(last, 10, 64); err != nil || end < off {
			return 0, 0, false, fmt.Errorf("bad range %q", h)
		}
		end = min(end, size-1)
	}
	return off, end - off + 1, true, nil
}

func (n *Node) handleDeleteBlob(w http.ResponseWriter, r *http.Request) {
	id, b, done := n.admitBlobRPC(w, r, nil, "")
	if done == nil {
		return
	}
	defer done()
	if _, err := b.removeUnlessHeld(id, true); err != nil {
		if derr := b.disk.failed(err); derr != nil {
			writeOutcome(w, derr)
			return
		}
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// DiscardBlob removes a blob from this node and, best-effort, from every
// other member. Call it only for a blob whose metadata command can never
// commit: the upload failed before proposing (bad digest, checksum
// mismatch), or the proposal failed with a definite answer (precondition
// failed, no such bucket). After objstore.ErrUnavailable the outcome is
// unknown and the command may still commit: leave the blob to CollectBlobs.
// Members that cannot be reached keep their copy until their own
// collection removes it. The error reports the local removal only.
func (n *Node) DiscardBlob(ctx context.Context, id string) error {
	b := n.blobs()
	if !b.enter() {
		return b.unavailable()
	}
	defer b.leave()
	b.repMu.Lock()
	if cancel := b.replicating[id]; cancel != nil {
		cancel()
	}
	b.repMu.Unlock()
	if _, err := b.removeUnlessHeld(id, true); err != nil {
		return err
	}
	var wg sync.WaitGroup
	for _, s := range n.currentServers() {
		if string(s.ID) == n.cfg.ID {
			continue
		}
		wg.Go(func() {
			if err := n.deleteRemoteBlob(ctx, string(s.Address), id); err != nil {
				b.log("blob discard on peer failed; its collection will remove it", "peer", s.ID, "blob", id, "err", err)
			}
		})
	}
	wg.Wait()
	return nil
}

// discardBlob removes a blob after a failed StoreBlob: locally now, on the
// peers in the background.
func (n *Node) discardBlob(b *blobService, id string, peers []raft.Server) {
	if _, err := b.removeUnlessHeld(id, true); err != nil && b.disk.failed(err) == nil {
		b.log("removing failed blob", "blob", id, "err", err)
	}
	if !b.enter() {
		return
	}
	go func() {
		defer b.leave()
		ctx, cancel := b.background(blobStallTimeout)
		defer cancel()
		for _, p := range peers {
			_ = n.deleteRemoteBlob(ctx, string(p.Address), id) // unreachable peers: CollectBlobs
		}
	}()
}

func (n *Node) deleteRemoteBlob(ctx context.Context, addr, id string) error {
	ctx, cancel := context.WithTimeout(ctx, blobStallTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, "http://"+addr+"/rpc/blob/"+id, nil)
	if err != nil {
		return err
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

// OpenBlob returns bytes [off, off+length) of the blob ref names (length
// < 0: to the end). ref comes from the object record: its size and MD5
// let a fetched copy be verified before it is kept.
//
// A blob this node holds is read from its file, only the bytes asked for,
// each chunk verified against the checksums recorded when it was written
// (blobcheck.go): a corrupt copy is never served, but read from the other
// members instead and replaced. One it lacks (the node was down during
// the upload, or was restored from a snapshot) is fetched from the other
// members, each tried in turn, a transfer that breaks off resuming from
// the next member at the byte it reached. Reading the whole blob also
// stores it here as it streams, so the node heals itself; the last bytes
// are delivered only after the copy has been verified against ref's size
// and MD5, so a corrupt copy fails the read instead of completing it. A
// range read of a missing blob streams just that range from a peer and
// heals in the background.
//
// Read and Close must not be called concurrently. Errors:
// blobstore.ErrInvalidRange, objstore.ErrSlowDown when maxBlobFetches
// fetches run, objstore.ErrUnavailable when no member can serve it.
func (n *Node) OpenBlob(ctx context.Context, ref BlobRef, off, length int64) (io.ReadCloser, error) {
	if !blobstore.ValidID(ref.ID) {
		return nil, blobstore.ErrInvalidID
	}
	if length < 0 {
		length = ref.Size - off
	}
	if off < 0 || length < 0 || off > ref.Size || length > ref.Size-off {
		return nil, fmt.Errorf("%w: %d+%d of %d bytes", blobstore.ErrInvalidRange, off, length, ref.Size)
	}
	b := n.blobs()
	if !b.enter() {
		return nil, b.unavailable()
	}
	defer b.leave()
	lr, err := b.openLocal(ref, off, length)
	corrupt := errors.Is(err, blobstore.ErrCorrupt)
	switch {
	case err == nil:
		return &localBlob{n: n, b: b, ctx: ctx, ref: ref, off: off, end: off + length, r: lr}, nil
	case corrupt:
		b.logError("local blob copy is corrupt; reading a good copy from a peer and replacing it", "blob", ref.ID, "err", err)
	case b.disk.failed(err) != nil:
		// A copy written before checksums existed, which a full or
		// read-only disk kept from getting them: read a peer's instead.
	case !errors.Is(err, blobstore.ErrNotFound):
		return nil, err
	}
	if !tryAcquire(b.fetches) {
		return nil, fmt.Errorf("%w: %d blob fetches in progress", objstore.ErrSlowDown, maxBlobFetches)
	}
	whole := off == 0 && length == ref.Size
	keep := keepNone
	if whole {
		keep = keepIfPossible
	}
	fr, err := n.newBlobFetch(ctx, b, ref, off, length, fetchOpts{keep: keep})
	if err != nil {
		if corrupt {
			b.logError("blob is corrupt on this node and no member could serve a good copy", "blob", ref.ID, "err", err)
		}
		return nil, err
	}
	if !whole {
		n.healBlob(b, ref, corrupt)
	}
	return fr, nil
}

// FetchBlob makes sure this node holds the blob, fetching it from a peer
// if needed; it waits for a fetch slot. Use it to restore blobs eagerly in
// the background, e.g. after the node installed a snapshot.
func (n *Node) FetchBlob(ctx context.Context, ref BlobRef) error {
	return n.fetchBlob(ctx, ref, false)
}

// fetchBlob is FetchBlob; with repair set it fetches even though the node
// holds the blob, whose copy was found corrupt, and replaces it.
func (n *Node) fetchBlob(ctx context.Context, ref BlobRef, repair bool) error {
	if !repair && n.HasBlob(ref.ID) {
		return nil
	}
	b := n.blobs()
	if !b.enter() {
		return b.unavailable()
	}
	defer b.leave()
	select {
	case b.fetches <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	fr, err := n.newBlobFetch(ctx, b, ref, 0, ref.Size, fetchOpts{keep: keepOrFail, repair: repair})
	if err != nil {
		return err
	}
	defer fr.Close()
	_, err = blobstore.Copy(io.Discard, fr)
	return err
}

// healBlob fetches a blob in the background, unless it is already being
// fetched or too many heals run (a later read asks again); with repair
// set, also when the node holds it (a corrupt copy, which it replaces).
func (n *Node) healBlob(b *blobService, ref BlobRef, repair bool) {
	b.healMu.Lock()
	if _, ok := b.healing[ref.ID]; ok || len(b.healing) >= maxBlobHeals {
		b.healMu.Unlock()
		return
	}
	b.healing[ref.ID] = struct{}{}
	b.healMu.Unlock()
	done := func() {
		b.healMu.Lock()
		delete(b.healing, ref.ID)
		b.healMu.Unlock()
	}
	if !b.enter() {
		done()
		return
	}
	go func() {
		defer b.leave()
		defer done()
		ctx, cancel := b.background(blobBackgroundTimeout)
		defer cancel()
		err := n.fetchBlob(ctx, ref, repair)
		switch {
		case err != nil && blobstore.Unwritable(err) != nil:
			// A full disk: the disk watch has logged it.
		case err != nil && repair:
			b.logError("repairing a corrupt blob copy failed; a later read tries again", "blob", ref.ID, "err", err)
		case err != nil:
			b.log("background blob fetch failed", "blob", ref.ID, "err", err)
		case repair:
			b.log("repaired a corrupt blob copy from a peer", "blob", ref.ID)
		}
	}()
}

// keepMode says whether a fetch stores the blob locally as it streams.
type keepMode uint8

const (
	keepNone       keepMode = iota // a range: only deliver it
	keepIfPossible                 // a whole read: store too, but a local failure (disk full) does not fail the read
	keepOrFail                     // FetchBlob: storing is the point, so a local failure ends the fetch
)

// blobFetch reads a range of a blob from peers; unless its mode is
// keepNone (the range is then the whole blob) it also stores the blob
// locally.
type blobFetch struct {
	b       *blobService
	ref     BlobRef
	mode    keepMode
	off     int64 // next byte to deliver
	end     int64
	open    func(off int64) (io.ReadCloser, error) // next peer's stream from off
	body    io.ReadCloser
	w       *blobstore.Writer // local copy being written, or nil
	err     error
	closed  bool
	release func()
}

// fetchOpts says what a blob fetch is for.
type fetchOpts struct {
	keep   keepMode // unless keepNone, the range is the whole blob: store it locally too
	repair bool     // it replaces a corrupt local copy (see hdrBlobRepair)
}

// newBlobFetch takes over a slot of b.fetches, which the caller acquired:
// Close, or newBlobFetch itself on error, releases it.
func (n *Node) newBlobFetch(ctx context.Context, b *blobService, ref BlobRef, off, length int64, opts fetchOpts) (*blobFetch, error) {
	if !b.enter() {
		release(b.fetches)
		return nil, b.unavailable()
	}
	fr := &blobFetch{b: b, ref: ref, mode: opts.keep, off: off, end: off + length}
	fr.release = sync.OnceFunc(func() {
		release(b.fetches)
		b.leave()
	})
	var peers []raft.Server
	for _, s := range n.currentServers() {
		if string(s.ID) != n.cfg.ID {
			peers = append(peers, s)
		}
	}
	orderBlobPeers(peers)
	var errs []error
	fr.open = func(from int64) (io.ReadCloser, error) {
		for len(peers) > 0 {
			p := peers[0]
			peers = peers[1:]
			body, err := n.getRemoteBlob(ctx, string(p.Address), ref, from, fr.end, opts.repair)
			if err == nil {
				return body, nil
			}
			errs = append(errs, fmt.Errorf("%s: %w", p.ID, err))
		}
		return nil, fmt.Errorf("%w: blob %s: no member could serve it: %v", objstore.ErrUnavailable, ref.ID, errors.Join(errs...))
	}
	if opts.keep != keepNone {
		// Replace: the copy is verified before it is committed, and the
		// local one it replaces may be corrupt.
		w, err := b.store.Create(blobstore.CreateOptions{ID: ref.ID, Limit: ref.Size, Replace: true})
		switch {
		case err == nil:
			fr.w = w
		case opts.keep == keepIfPossible && b.disk.failed(err) != nil:
			// A full disk must not make a blob unreadable that a peer
			// holds: serve it without keeping a copy.
		default:
			b.disk.failed(err)
			fr.release()
			return nil, err
		}
	}
	// Open the first stream now, so that "nobody has it" is an error of
	// OpenBlob rather than of the first Read.
	if length > 0 {
		if fr.body, fr.err = fr.open(off); fr.err != nil {
			err := fr.err
			fr.Close()
			return nil, err
		}
	}
	return fr, nil
}

func (fr *blobFetch) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if fr.err != nil {
			return 0, fr.err
		}
		if fr.off == fr.end {
			if fr.w != nil { // only for an empty blob: nothing was read
				if err := fr.keep(); err != nil {
					fr.err = err
					continue
				}
			}
			return 0, io.EOF
		}
		if fr.body == nil {
			if fr.body, fr.err = fr.open(fr.off); fr.err != nil {
				continue
			}
		}
		k, err := fr.body.Read(p[:min(int64(len(p)), fr.end-fr.off)])
		if k > 0 {
			if fr.w != nil {
				if _, werr := fr.w.Write(p[:k]); werr != nil {
					fr.w.Abort()
					fr.w = nil
					if fr.mode == keepOrFail {
						fr.b.disk.failed(werr)
						fr.err = werr
						return 0, werr
					}
					if fr.b.disk.failed(werr) == nil { // a full disk is logged once, by the watch
						fr.b.log("storing fetched blob failed; serving it anyway", "blob", fr.ref.ID, "err", werr)
					}
				}
			}
			if fr.off+int64(k) == fr.end {
				fr.body.Close()
				fr.body = nil
				// Hold the last bytes back until the copy is verified.
				if fr.w != nil {
					if err := fr.keep(); err != nil {
						fr.err = err
						return 0, err
					}
				}
			}
			fr.off += int64(k)
			return k, nil
		}
		if err != nil {
			// The peer failed or ended early: resume from the next one.
			fr.body.Close()
			fr.body = nil
		}
	}
}

// keep verifies the fetched copy against ref and commits it. A mismatch
// fails the read; a local storage failure does not (the bytes are good).
func (fr *blobFetch) keep() error {
	w := fr.w
	fr.w = nil
	sum := w.Sum()
	if sum.Size != fr.ref.Size || (fr.ref.MD5 != "" && sum.MD5Hex() != fr.ref.MD5) {
		w.Abort()
		return fmt.Errorf("%w: blob %s fetched from a peer is corrupt: %d bytes, md5 %s; want %d bytes, md5 %s",
			objstore.ErrUnavailable, fr.ref.ID, sum.Size, sum.MD5Hex(), fr.ref.Size, fr.ref.MD5)
	}
	if _, err := w.Commit(); err != nil {
		if fr.b.disk.failed(err) == nil {
			fr.b.log("storing fetched blob failed", "blob", fr.ref.ID, "err", err)
		}
		if fr.mode == keepOrFail {
			return err
		}
		return nil
	}
	fr.b.disk.ok()
	return nil
}

func (fr *blobFetch) Close() error {
	if fr.closed {
		return nil
	}
	fr.closed = true
	if fr.body != nil {
		fr.body.Close()
		fr.body = nil
	}
	if fr.w != nil {
		fr.w.Abort()
		fr.w = nil
	}
	if fr.err == nil {
		fr.err = errors.New("node: blob reader closed")
	}
	fr.release()
	return nil
}

// getRemoteBlob opens bytes [off, end) of a blob on the peer at addr;
// repair says the fetch replaces a corrupt copy. The returned body fails
// if the peer stalls for blobStallTimeout.
func (n *Node) getRemoteBlob(ctx context.Context, addr string, ref BlobRef, off, end int64, repair bool) (io.ReadCloser, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/rpc/blob/"+ref.ID, nil)
	if err != nil {
		cancel(nil)
		return nil, err
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, end-1))
	// What the blob should be, so that the peer can verify (and, if
	// corrupt, repair) a copy of its own that has no checksums yet.
	req.Header.Set(hdrBlobSize, strconv.FormatInt(ref.Size, 10))
	if ref.MD5 != "" {
		req.Header.Set(hdrBlobMD5, ref.MD5)
	}
	if repair {
		req.Header.Set(hdrBlobRepair, "1")
	}
	wd := newWatchdog(func() { cancel(errBlobStalled) })
	resp, err := n.client.Do(req)
	if err != nil {
		wd.stop()
		err = cmpCause(ctx, err)
		cancel(nil)
		return nil, err
	}
	fail := func(err error) (io.ReadCloser, error) {
		wd.stop()
		resp.Body.Close()
		cancel(nil)
		return nil, err
	}
	if resp.StatusCode != http.StatusPartialContent {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fail(fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(msg))))
	}
	if got := resp.Header.Get(hdrBlobSize); got != strconv.FormatInt(ref.Size, 10) {
		return fail(fmt.Errorf("peer holds %s bytes, want %d", got, ref.Size))
	}
	if resp.ContentLength != end-off {
		return fail(fmt.Errorf("peer sends %d bytes, want %d", resp.ContentLength, end-off))
	}
	wd.pause()
	return &fetchBody{body: resp.Body, wd: wd, cause: func() error { return context.Cause(ctx) }, cancel: cancel}, nil
}

// cmpCause names the watchdog as the cause of a failed request.
func cmpCause(ctx context.Context, err error) error { return preferCause(context.Cause(ctx), err) }

func preferCause(cause, err error) error {
	if errors.Is(cause, errBlobStalled) {
		return fmt.Errorf("%w: %v", cause, err)
	}
	return err
}

// fetchBody runs the stall watchdog while a Read waits on the peer, not
// while the consumer is busy elsewhere.
type fetchBody struct {
	body   io.ReadCloser
	wd     *watchdog
	cause  func() error // the request context's cause, to name a failure
	cancel context.CancelCauseFunc
}

func (f *fetchBody) Read(p []byte) (int, error) {
	f.wd.kick()
	n, err := f.body.Read(p)
	f.wd.pause()
	if err != nil && err != io.EOF {
		err = preferCause(f.cause(), err)
	}
	return n, err
}

func (f *fetchBody) Close() error {
	f.wd.stop()
	err := f.body.Close()
	f.cancel(nil)
	return err
}

// CollectResult reports one CollectBlobs pass.
type CollectResult struct {
	Scanned      int   // blobs on this node
	Removed      int   // of those, removed as garbage
	RemovedBytes int64 // their size
	Held         int   // garbage an open read still holds: removed when it ends
}

// CollectBlobs removes every blob on this node that is older than
// olderThan and not referenced. referenced must report whether the state
// machine (any object record or multipart part) refers to the ID; it is
// called after CollectBlobs passed a linearizable read barrier (which it
// runs even with UnsafeLocalReads), so it sees every command committed
// before the pass began.
//
// Why the grace period makes this safe: a blob is written, then its
// metadata command is proposed. A blob older than olderThan whose command
// has not committed by the barrier either never will (the upload failed:
// an orphan) or was proposed more than olderThan ago and is still in
// flight; olderThan must be far longer than any proposal can take (an
// upload's proposal is bounded by ApplyTimeout and the request's
// deadline; use an hour, not seconds). Blobs that an apply orphaned
// (overwrite, delete, abort) are found here too, but the state machine's
// garbage list removes them sooner (see blobstore's package doc); the
// node's own collection counts a listed blob as referenced, leaving it to
// that drain.
//
// A blob an open read holds (the object was deleted or overwritten while
// a GET streams it) is not removed, whatever its age: it is counted in
// Held and removed when the last such read ends.
func (n *Node) CollectBlobs(ctx context.Context, referenced func(id string) bool, olderThan time.Duration) (CollectResult, error) {
	var res CollectResult
	if err := n.Failure(); err != nil {
		return res, err // the state machine's view of references stopped advancing
	}
	b := n.blobs()
	if !b.enter() {
		return res, b.unavailable()
	}
	defer b.leave()
	cutoff := time.Now().Add(-olderThan) // before the barrier: see above
	idx, err := n.reads.readIndex(ctx)
	if err != nil {
		return res, err
	}
	if err := n.fsm.WaitApplied(ctx, idx); err != nil {
		return res, fmt.Errorf("%w: waiting for index %d: %v", objstore.ErrUnavailable, idx, err)
	}
	err = b.store.Walk(func(e blobstore.Entry) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		res.Scanned++
		if !e.ModTime.Before(cutoff) || referenced(e.ID) {
			return nil
		}
		removed, err := b.removeUnlessHeld(e.ID, true)
		if err != nil {
			return err
		}
		if !removed {
			res.Held++
			return nil
		}
		res.Removed++
		res.RemovedBytes += e.Size
		return nil
	})
	return res, err
}
