package linearizability

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"
)

// Kind is the type of one client operation.
type Kind string

// The operations of the workload.
const (
	// Get is GetObject: the value, or absent (404 NoSuchKey).
	Get Kind = "get"
	// Put is an unconditional PutObject of a value no one else writes.
	Put Kind = "put"
	// Delete is DeleteObject (S3 answers 204 whether or not the key exists).
	Delete Kind = "delete"
	// PutIfAbsent is PutObject with If-None-Match: *.
	PutIfAbsent Kind = "put-if-absent"
	// PutIfMatch is PutObject with If-Match: the ETag of the value in
	// Op.Expect (compare-and-set).
	PutIfMatch Kind = "put-if-match"
	// List is ListObjectsV2 on a prefix: every key under it, with its ETag.
	List Kind = "list"
)

// Kinds lists every operation kind, in report order.
var Kinds = []Kind{Get, Put, Delete, PutIfAbsent, PutIfMatch, List}

func (k Kind) isWrite() bool { return k == Put || k == Delete || k == PutIfAbsent || k == PutIfMatch }

// Outcome is what the client learned about an operation.
type Outcome string

// Outcomes.
const (
	// OK: the operation took effect (reads: returned a result).
	OK Outcome = "ok"
	// Fail: the operation definitely had no effect (404, 412 and other
	// 4xx answers to writes). A 412 or 404 still tells something about
	// the state, which the models check.
	Fail Outcome = "fail"
	// Unknown: a write that may or may not have taken effect (timeout,
	// connection error, 5xx), or a read that returned nothing usable.
	// Unknown writes are checked as if they returned at the end of time;
	// unknown reads are left out of the check (they had no effect).
	Unknown Outcome = "unknown"
)

// Op is one operation in a history: what a client asked, when, and what it
// learned. Times are nanoseconds on the monotonic clock since the start of
// the run; Return is when the client gave up for unknown outcomes.
type Op struct {
	ID     int  `json:"id"`
	Client int  `json:"client"`
	Node   int  `json:"node"` // index of the endpoint the client used
	Kind   Kind `json:"kind"`
	// Key is the object key, or the prefix of a List.
	Key string `json:"key"`
	// Value is the value a write stores (unique in the run; its MD5 is
	// the object's ETag).
	Value string `json:"value,omitempty"`
	// Expect is the value whose ETag a PutIfMatch sent in If-Match.
	Expect  string  `json:"expect,omitempty"`
	Outcome Outcome `json:"outcome"`
	Status  int     `json:"status,omitempty"` // HTTP status of a failure, if any
	Error   string  `json:"error,omitempty"`
	// Found and Result are a Get's answer.
	Found  bool   `json:"found,omitempty"`
	Result string `json:"result,omitempty"`
	// Listed is a List's answer: key to value (via the ETag; an ETag no
	// write produced shows as "etag:<hex>").
	Listed map[string]string `json:"listed,omitempty"`
	Call   int64             `json:"call"`
	Return int64             `json:"return"`
}

func (o *Op) String() string {
	switch o.Kind {
	case Get:
		if o.Outcome != OK {
			return fmt.Sprintf("get(%s) -> %s", o.Key, o.Outcome)
		}
		if !o.Found {
			return fmt.Sprintf("get(%s) -> absent", o.Key)
		}
		return fmt.Sprintf("get(%s) -> %s", o.Key, o.Result)
	case List:
		if o.Outcome != OK {
			return fmt.Sprintf("list(%s) -> %s", o.Key, o.Outcome)
		}
		return fmt.Sprintf("list(%s) -> %s", o.Key, describeMap(o.Listed))
	case Delete:
		return fmt.Sprintf("delete(%s) -> %s", o.Key, o.outcomeString())
	case PutIfMatch:
		return fmt.Sprintf("put(%s, %s, if-match %s) -> %s", o.Key, o.Value, o.Expect, o.outcomeString())
	case PutIfAbsent:
		return fmt.Sprintf("put(%s, %s, if-none-match *) -> %s", o.Key, o.Value, o.outcomeString())
	default:
		return fmt.Sprintf("put(%s, %s) -> %s", o.Key, o.Value, o.outcomeString())
	}
}

func (o *Op) outcomeString() string {
	if o.Outcome == Fail && o.Status != 0 {
		return fmt.Sprintf("fail %d", o.Status)
	}
	return string(o.Outcome)
}

// ETag is the S3 ETag of an object holding value (its hex MD5, unquoted).
func ETag(value string) string {
	sum := md5.Sum([]byte(value))
	return hex.EncodeToString(sum[:])
}

// History is a complete record of one run's operations, safe for
// concurrent recording.
type History struct {
	start time.Time

	mu        sync.Mutex
	ops       []Op
	byETag    map[string]string // ETag -> value, of every value ever written
	anomalies []string
}

// NewHistory starts a history whose clock starts now.
func NewHistory() *History {
	return &History{start: time.Now(), byETag: map[string]string{}}
}

// Now is the history's clock: monotonic nanoseconds since it started.
func (h *History) Now() int64 { return int64(time.Since(h.start)) }

// Start is the wall-clock time the history's clock counts from.
func (h *History) Start() time.Time { return h.start }

// Written registers a value about to be written, so that listings, which
// report ETags only, can be mapped back to values.
func (h *History) Written(value string) {
	h.mu.Lock()
	h.byETag[ETag(value)] = value
	h.mu.Unlock()
}

// ValueOf maps an ETag (quoted or not) back to the value written with it.
func (h *History) ValueOf(etag string) string {
	etag = unquote(etag)
	h.mu.Lock()
	defer h.mu.Unlock()
	if v, ok := h.byETag[etag]; ok {
		return v
	}
	return "etag:" + etag
}

// Add records a completed operation and assigns its ID.
func (h *History) Add(op Op) {
	h.mu.Lock()
	op.ID = len(h.ops)
	h.ops = append(h.ops, op)
	h.mu.Unlock()
}

// Ops returns a copy of the operations recorded so far, in order of
// completion.
func (h *History) Ops() []Op {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.ops)
}

// Anomaly records something a client saw that no linearizable history
// explains but the models do not express: a body that does not match its
// ETag, a bucket that vanished, a truncated listing of a few keys. Any
// anomaly makes the verdict a violation.
func (h *History) Anomaly(format string, args ...any) {
	h.mu.Lock()
	h.anomalies = append(h.anomalies, fmt.Sprintf(format, args...))
	h.mu.Unlock()
}

// Anomalies returns the anomalies recorded so far.
func (h *History) Anomalies() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.anomalies)
}

// historyFile is the JSON form of a history (history.json).
type historyFile struct {
	Start time.Time `json:"start"`
	Ops   []Op      `json:"ops"`
}

// WriteHistory saves ops to path as JSON.
func WriteHistory(path string, start time.Time, ops []Op) error {
	b, err := json.MarshalIndent(historyFile{Start: start, Ops: ops}, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// ReadHistory loads a history written by WriteHistory, for re-checking.
func ReadHistory(path string) ([]Op, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f historyFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f.Ops, nil
}

func unquote(etag string) string {
	if len(etag) >= 2 && etag[0] == '"' && etag[len(etag)-1] == '"' {
		return etag[1 : len(etag)-1]
	}
	return etag
}
