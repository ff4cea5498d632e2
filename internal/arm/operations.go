package arm

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/store"
)

// Operations runs ARM long-running operations: the request returns at once
// with Azure-AsyncOperation and Location headers, the work goes on in the
// background, and clients poll until it reaches a terminal status. Status
// documents are kept in the store, so polling works across restarts; an
// operation that was running when the server stopped reads as Failed.
//
// Among replicas of a set (SetReplica), an operation records the replica
// that runs it, and reads as running on every replica while that replica
// is alive.
type Operations struct {
	st   Store
	base string
	log  *slog.Logger

	// replica is this server's replica ID ("" for a single server);
	// alive reports whether another replica is alive.
	replica string
	alive   func(ctx context.Context, replica string) bool

	mu      sync.Mutex
	ctx     context.Context
	running map[string]bool
	wg      sync.WaitGroup
}

func newOperations(st Store, base string, log *slog.Logger) *Operations {
	return &Operations{st: st, base: base, log: log, ctx: context.Background(), running: map[string]bool{}}
}

// SetContext sets the context background work runs under (the server's lifetime).
func (o *Operations) SetContext(ctx context.Context) { o.ctx = ctx }

// SetReplica makes this server replica id of a set: operations record
// it, and an operation another replica runs reads as running while alive
// says that replica is alive.
func (o *Operations) SetReplica(id string, alive func(ctx context.Context, replica string) bool) {
	o.replica, o.alive = id, alive
}

// Wait blocks until every running operation has finished.
func (o *Operations) Wait() { o.wg.Wait() }

// Operation is the status document ARM clients poll.
type Operation struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Status    string     `json:"status"`
	StartTime time.Time  `json:"startTime"`
	EndTime   *time.Time `json:"endTime,omitempty"`
	Error     *ErrorBody `json:"error,omitempty"`
	// PercentComplete and Properties.Progress report how far a running
	// operation has got (ARM's percentComplete; drydock's progress text).
	PercentComplete float64            `json:"percentComplete"`
	Properties      *OperationProgress `json:"properties,omitempty"`
}

// OperationProgress is drydock's human-readable progress of an operation.
type OperationProgress struct {
	Progress string `json:"progress,omitempty"`
}

type progressKey struct{}

// ReportProgress records progress for the operation running under ctx; it
// is a no-op outside an operation.
func ReportProgress(ctx context.Context, percent float64, message string) {
	if f, ok := ctx.Value(progressKey{}).(func(float64, string)); ok {
		f(percent, message)
	}
}

type storedOp struct {
	Operation
	Owner string `json:"owner"`
	// Runner is the replica that runs it (among replicas of a set).
	Runner  string          `json:"runner,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	ErrCode int             `json:"errStatus,omitempty"`
}

// Start begins fn in the background and sets the polling headers on the
// response. It returns the operation's name. fn's result (may be nil) is
// served by the Location URL when the operation succeeds.
func (o *Operations) Start(r *Request, fn func(ctx context.Context) (any, error)) (string, error) {
	name := uuid.NewString()
	prefix := ""
	if sub := r.ID.SubscriptionID; sub != "" {
		prefix = "/subscriptions/" + sub
	}
	statusPath := prefix + "/providers/Microsoft.Resources/operationStatuses/" + name
	resultPath := prefix + "/providers/Microsoft.Resources/operationResults/" + name
	op := storedOp{Operation: Operation{ID: statusPath, Name: name, Status: "InProgress", StartTime: time.Now().UTC()}, Owner: r.Caller.ObjectID, Runner: o.replica}
	// Running before it is saved as InProgress, and until it is saved as
	// ended: load never sees InProgress in the store for an operation this
	// process runs but not running (see load).
	o.mu.Lock()
	o.running[name] = true
	ctx := WithCaller(o.ctx, r.Caller)
	o.mu.Unlock()
	if err := o.save(context.Background(), op); err != nil {
		o.mu.Lock()
		delete(o.running, name)
		o.mu.Unlock()
		return "", err
	}
	q := "?api-version=" + r.APIVersion
	h := r.Writer.Header()
	h.Set("Azure-AsyncOperation", o.base+statusPath+q)
	h.Set("Location", o.base+resultPath+q)
	h.Set("Retry-After", "1")

	var last time.Time
	var progressMu sync.Mutex
	ctx = context.WithValue(ctx, progressKey{}, func(pct float64, msg string) {
		progressMu.Lock()
		defer progressMu.Unlock()
		// Persist at most a few times a second; the final state is saved below.
		if time.Since(last) < 250*time.Millisecond {
			return
		}
		last = time.Now()
		p := op
		p.PercentComplete, p.Properties = pct, &OperationProgress{Progress: msg}
		if err := o.save(context.Background(), p); err != nil {
			o.log.Warn("saving operation progress", "operation", name, "err", err)
		}
	})
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		res, err := fn(ctx)
		progressMu.Lock()
		defer progressMu.Unlock()
		end := time.Now().UTC()
		op.EndTime = &end
		op.PercentComplete = 100
		if err != nil {
			if errdefs.CodeOf(err) == "" {
				o.log.Error("long-running operation failed", "operation", name, "err", err)
			}
			status, body := envelope(err)
			op.Status, op.Error, op.ErrCode = "Failed", &body, status
		} else {
			op.Status = "Succeeded"
			if res != nil {
				op.Result, _ = json.Marshal(res)
			}
		}
		if err := o.save(context.Background(), op); err != nil {
			o.log.Error("saving operation status", "operation", name, "err", err)
		}
		o.mu.Lock()
		delete(o.running, name)
		o.mu.Unlock()
	}()
	return name, nil
}

func (o *Operations) save(ctx context.Context, op storedOp) error {
	b, err := json.Marshal(op)
	if err != nil {
		return err
	}
	return o.st.Update(ctx, func(tx *store.Tx) error { return tx.PutOperation(op.Name, b) })
}

func (o *Operations) load(r *Request) (storedOp, error) {
	name := r.ID.Name()
	// Whether this process runs it, asked before the store is read: an
	// operation that ends meanwhile is saved as ended before it stops
	// running, so InProgress read after "not running" means no process
	// runs it.
	o.mu.Lock()
	running := o.running[name]
	o.mu.Unlock()
	var op storedOp
	err := o.st.View(r.Context(), func(tx *store.Tx) error {
		b, err := tx.GetOperation(name)
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &op)
	})
	if err != nil || !strings.EqualFold(op.Owner, r.Caller.ObjectID) {
		return op, Errorf(http.StatusNotFound, "OperationNotFound", "The operation '%s' could not be found.", name)
	}
	if op.Status == "InProgress" && !running && op.Runner != "" && op.Runner != o.replica && o.alive != nil && o.alive(r.Context(), op.Runner) {
		running = true // another replica of the set runs it
	}
	if op.Status == "InProgress" && !running {
		// Saved as running by a server that stopped (or was killed) before
		// it ended: no process runs it any more.
		status, body := envelope(Interrupted(op.Name))
		op.Status, op.Error, op.ErrCode = "Failed", &body, status
	}
	return op, nil
}

// Interrupted is the error of an operation the server stopped while it ran.
func Interrupted(name string) *errdefs.Error {
	return Errorf(http.StatusInternalServerError, "OperationInterrupted",
		"The operation '%s' did not finish: the drydock server stopped while it was running. Check the resource's provisioningState and run the command again.", name)
}

func (o *Operations) status(r *Request) (int, any, error) {
	op, err := o.load(r)
	if err != nil {
		return 0, nil, err
	}
	if op.Status == "InProgress" {
		r.Writer.Header().Set("Retry-After", "1")
	}
	return http.StatusOK, op.Operation, nil
}

func (o *Operations) result(r *Request) (int, any, error) {
	op, err := o.load(r)
	if err != nil {
		return 0, nil, err
	}
	switch op.Status {
	case "InProgress":
		r.Writer.Header().Set("Location", r.BaseURL+r.URL.Path+"?api-version="+r.APIVersion)
		r.Writer.Header().Set("Retry-After", "1")
		return http.StatusAccepted, nil, nil
	case "Failed", "Canceled":
		if op.Error == nil {
			op.Error = &ErrorBody{Code: "OperationFailed", Message: "The operation failed."}
		}
		status := op.ErrCode
		if status == 0 {
			status = http.StatusInternalServerError
		}
		return 0, nil, &errdefs.Error{Kind: errdefs.FromHTTPStatus(status), Code: op.Error.Code, Message: op.Error.Message}
	}
	if len(op.Result) == 0 {
		return http.StatusNoContent, nil, nil
	}
	return http.StatusOK, op.Result, nil
}
