package arm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"syscall"
	"testing"

	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/resourceid"
	"github.com/drydock-dev/drydock/internal/store/storetest"
)

const testSub = "00000000-0000-0000-0000-0000000000aa"

func opRequest(t *testing.T, path string) (*Request, *httptest.ResponseRecorder) {
	t.Helper()
	id, err := resourceid.Parse(path)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	return &Request{Request: httptest.NewRequest(http.MethodGet, path, nil), Writer: w, Caller: Caller{ObjectID: "owner"},
		APIVersion: "2022-09-01", ID: id, BaseURL: "https://drydock.test"}, w
}

// pollStatus reads an operation's status document as a client polls it.
func pollStatus(t *testing.T, o *Operations, name string) Operation {
	t.Helper()
	r, _ := opRequest(t, "/subscriptions/"+testSub+"/providers/Microsoft.Resources/operationStatuses/"+name)
	_, body, err := o.status(r)
	if err != nil {
		t.Fatal(err)
	}
	return body.(Operation)
}

// An operation saved as InProgress by a server that stopped before it ended
// (a crash, kill -9) reads as Failed with OperationInterrupted after a
// restart, on both polling URLs, never InProgress; one that runs reads
// InProgress, then its outcome. A failure because the disk is full reads
// as InsufficientStorage.
func TestOperationsAcrossRestart(t *testing.T) {
	st := storetest.Open(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	before := newOperations(st, "https://drydock.test", log)
	release := make(chan error)
	start := func(o *Operations) string {
		r, w := opRequest(t, "/subscriptions/"+testSub+"/resourceGroups/rg")
		name, err := o.Start(r, func(ctx context.Context) (any, error) { return nil, <-release })
		if err != nil {
			t.Fatal(err)
		}
		if w.Header().Get("Azure-AsyncOperation") == "" || w.Header().Get("Location") == "" {
			t.Fatalf("polling headers: %v", w.Header())
		}
		return name
	}
	name := start(before)
	if got := pollStatus(t, before, name); got.Status != "InProgress" {
		t.Fatalf("running operation: %+v", got)
	}

	// The same store, opened by the next server.
	after := newOperations(st, "https://drydock.test", log)
	got := pollStatus(t, after, name)
	if got.Status != "Failed" || got.Error == nil || got.Error.Code != "OperationInterrupted" {
		t.Fatalf("an operation of a stopped server: %+v, want Failed with OperationInterrupted", got)
	}
	r, _ := opRequest(t, "/subscriptions/"+testSub+"/providers/Microsoft.Resources/operationResults/"+name)
	if _, _, err := after.result(r); err == nil || errdefs.CodeOf(err) != "OperationInterrupted" || errdefs.HTTPStatus(err) != http.StatusInternalServerError {
		t.Fatalf("its result: %v", err)
	}

	// The first server's operation still ends normally in that server.
	release <- nil
	before.Wait()
	if got := pollStatus(t, before, name); got.Status != "Succeeded" {
		t.Fatalf("finished operation: %+v", got)
	}

	name = start(after)
	release <- fmt.Errorf("saving: %w", &os.PathError{Op: "write", Path: "blob", Err: syscall.ENOSPC})
	after.Wait()
	got = pollStatus(t, after, name)
	if got.Status != "Failed" || got.Error == nil || got.Error.Code != "InsufficientStorage" {
		t.Fatalf("an operation that found the disk full: %+v", got)
	}
	r, _ = opRequest(t, "/subscriptions/"+testSub+"/providers/Microsoft.Resources/operationResults/"+name)
	if _, _, err := after.result(r); err == nil || errdefs.HTTPStatus(err) != http.StatusInsufficientStorage {
		t.Fatalf("its result: %v", err)
	}
}

// A handler error that is a full disk is ARM's 507 InsufficientStorage,
// saying so; any other unexpected error stays 500 InternalServerError.
func TestWriteErrorDiskFull(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("commit: %w", &os.PathError{Op: "write", Path: "drydock.db-wal", Err: syscall.ENOSPC}), http.StatusInsufficientStorage, "InsufficientStorage"},
		{errors.New("boom"), http.StatusInternalServerError, "InternalServerError"},
		{BadRequest("InvalidParameter", "no"), http.StatusBadRequest, "InvalidParameter"},
	} {
		w := httptest.NewRecorder()
		WriteError(w, c.err)
		var body struct{ Error ErrorBody }
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if w.Code != c.status || body.Error.Code != c.code {
			t.Errorf("%v: %d %s, want %d %s", c.err, w.Code, body.Error.Code, c.status, c.code)
		}
		if c.code == "InsufficientStorage" && !regexp.MustCompile(`disk holding drydock's data directory is full.*Free some space`).MatchString(body.Error.Message) {
			t.Errorf("message: %q", body.Error.Message)
		}
	}
}

// Among replicas of a set, an operation another replica runs reads as
// InProgress on this one while that replica is alive, and as interrupted
// once it is not; a single server's operations (no runner) read as before.
func TestOperationsAcrossReplicas(t *testing.T) {
	st := storetest.Open(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	alive := map[string]bool{}
	replica := func(id string) *Operations {
		o := newOperations(st, "https://drydock.test", log)
		if id != "" {
			o.SetReplica(id, func(_ context.Context, other string) bool { return alive[other] })
		}
		return o
	}
	release := make(chan error)
	defer close(release)
	a, b, single := replica("a"), replica("b"), replica("")
	r, _ := opRequest(t, "/subscriptions/"+testSub+"/resourceGroups/rg")
	name, err := a.Start(r, func(ctx context.Context) (any, error) { return nil, <-release })
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		reader  *Operations
		aAlive  bool
		want    string
		wantErr string
	}{
		{"on its own replica", a, true, "InProgress", ""},
		{"on another while its replica is alive", b, true, "InProgress", ""},
		{"on another once its replica is dead", b, false, "Failed", "OperationInterrupted"},
		{"on a server that is no replica", single, true, "Failed", "OperationInterrupted"},
	} {
		alive["a"] = tc.aAlive
		got := pollStatus(t, tc.reader, name)
		code := ""
		if got.Error != nil {
			code = got.Error.Code
		}
		if got.Status != tc.want || code != tc.wantErr {
			t.Errorf("%s: %s %s, want %s %s", tc.name, got.Status, code, tc.want, tc.wantErr)
		}
	}
	release <- nil
	a.Wait()
	if got := pollStatus(t, b, name); got.Status != "Succeeded" {
		t.Errorf("after it ended: %+v", got)
	}
}
