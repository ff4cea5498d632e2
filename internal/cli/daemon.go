package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/drydock-dev/drydock/internal/client"
	"github.com/drydock-dev/drydock/internal/config"
	"github.com/drydock-dev/drydock/internal/server"
)

// addDaemonCommands adds `server`, `up` and `down`: the commands that run the
// drydock server rather than talk to it.
func addDaemonCommands(root *cobra.Command) {
	root.AddCommand(newServerCommand(), newUpCommand(), newDownCommand(), newBenchCommand())
	root.AddCommand(newCredentialProviderCommand())
}

type serverFlags struct {
	dataDir, listen, configFile, logLevel string
}

func (f *serverFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.dataDir, "data-dir", "", "directory for the database, keys, certificates and logs (default $DRYDOCK_DATA_DIR or ~/.drydock/server)")
	cmd.Flags().StringVar(&f.listen, "listen", "", "HTTPS address of the API (default 127.0.0.1:8443)")
	cmd.Flags().StringVar(&f.configFile, "config", "", "YAML or JSON configuration file (default <data-dir>/config.yaml when present)")
	cmd.Flags().StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error")
}

// load applies file, environment and flags, in that order.
func (f *serverFlags) load() (config.Config, error) {
	if f.dataDir != "" {
		os.Setenv("DRYDOCK_DATA_DIR", f.dataDir)
	}
	cfg, err := config.Load(f.configFile)
	if err != nil {
		return cfg, err
	}
	if f.dataDir != "" {
		cfg.DataDir = f.dataDir
	}
	if f.listen != "" {
		cfg.Listen = f.listen
	}
	if f.logLevel != "" {
		cfg.LogLevel = f.logLevel
	}
	return cfg, cfg.Finish()
}

func newServerCommand() *cobra.Command {
	var f serverFlags
	cmd := tool(spec{use: "server", short: "Run the drydock server in the foreground.",
		long: `Run the drydock server in the foreground: the resource manager, directory, token service and
managed-identity endpoint on one HTTPS listener (loopback by default). Stops gracefully on SIGINT/SIGTERM.

Configuration comes from embedded defaults, then --config (or <data-dir>/config.yaml), then DRYDOCK_*
environment variables (DRYDOCK_LISTEN, DRYDOCK_DATA_DIR, DRYDOCK_GROUP_PROPAGATION_DELAY, ...), then flags.`}, func(cmd *cobra.Command) error {
		cfg, err := f.load()
		if err != nil {
			return err
		}
		var level slog.Level
		if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
			return fmt.Errorf("log level %q: use debug, info, warn or error", cfg.LogLevel)
		}
		log := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		srv, err := server.New(ctx, cfg, log)
		if err != nil {
			return err
		}
		return srv.Run(ctx)
	})
	f.register(cmd)
	return cmd
}

func readState(dataDir string) (server.State, error) {
	var st server.State
	b, err := os.ReadFile(filepath.Join(dataDir, server.StateFile))
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(b, &st)
}

// ready polls /readyz until it answers 200 or the deadline passes.
func ready(st server.State, deadline time.Time) error {
	c, err := client.New(client.Config{Endpoint: st.Endpoint, CAFile: st.CAFile})
	if err != nil {
		return err
	}
	hc := c.HTTP
	hc.Timeout = 2 * time.Second
	for {
		resp, err := hc.Get(st.Endpoint + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("readyz answered %s", resp.Status)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func newUpCommand() *cobra.Command {
	var f serverFlags
	cmd := tool(spec{use: "up", short: "Start drydock in the background and log the CLI in as the bootstrap admin.",
		long: `Start the drydock server in the background (unless it already runs for this data dir), wait until it
is ready, and log this CLI in as the bootstrap admin (admin@<tenant domain>, whose password the server
keeps in <data-dir>/admin-password, mode 0600). Logs go to <data-dir>/drydock.log.`}, func(cmd *cobra.Command) error {
		cfg, err := f.load()
		if err != nil {
			return err
		}
		st, err := readState(cfg.DataDir)
		if err != nil || ready(st, time.Now()) != nil {
			if st, err = startBackground(cfg, f); err != nil {
				return err
			}
		}
		pw, err := os.ReadFile(filepath.Join(cfg.DataDir, server.AdminPasswordFile))
		if err != nil {
			return fmt.Errorf("reading the bootstrap admin password: %w", err)
		}
		if err := loginWithPassword(cmd.Context(), st.Endpoint, st.CAFile, st.TenantID, st.Admin, strings.TrimSpace(string(pw))); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "drydock is up.\n  endpoint:  %s\n  CA:        %s (trust it in clients)\n  tenant:    %s\n  signed in: %s\n  data dir:  %s\n  log:       %s\n",
			st.Endpoint, st.CAFile, st.TenantID, st.Admin, cfg.DataDir, filepath.Join(cfg.DataDir, "drydock.log"))
		return newApp(nil, io.Discard, io.Discard).printRealAzSetup(cmd.Context(), cmd.OutOrStdout(), st.Endpoint, st.CAFile, cfg.DataDir, st.Admin, filepath.Join(cfg.DataDir, server.AdminPasswordFile))
	})
	f.register(cmd)
	return cmd
}

func startBackground(cfg config.Config, f serverFlags) (server.State, error) {
	exe, err := os.Executable()
	if err != nil {
		return server.State{}, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return server.State{}, err
	}
	logFile, err := os.OpenFile(filepath.Join(cfg.DataDir, "drydock.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return server.State{}, err
	}
	defer logFile.Close()
	args := []string{"server", "--data-dir", cfg.DataDir, "--listen", cfg.Listen}
	if f.configFile != "" {
		args = append(args, "--config", f.configFile)
	}
	if f.logLevel != "" {
		args = append(args, "--log-level", f.logLevel)
	}
	os.Remove(filepath.Join(cfg.DataDir, server.StateFile))
	c := exec.Command(exe, args...)
	c.Stdout, c.Stderr = logFile, logFile
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := c.Start(); err != nil {
		return server.State{}, err
	}
	exited := make(chan error, 1)
	go func() { exited <- c.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			return server.State{}, fmt.Errorf("the server exited during start-up (%v); see %s", err, logFile.Name())
		case <-time.After(100 * time.Millisecond):
		}
		st, err := readState(cfg.DataDir)
		if err == nil && ready(st, time.Now()) == nil {
			return st, nil
		}
		if time.Now().After(deadline) {
			c.Process.Kill()
			return server.State{}, fmt.Errorf("the server did not become ready within 60s; see %s", logFile.Name())
		}
	}
}

func newDownCommand() *cobra.Command {
	var dataDir string
	cmd := tool(spec{use: "down", short: "Stop the drydock server started by 'drydock up'."}, func(cmd *cobra.Command) error {
		if dataDir == "" {
			dataDir = config.DefaultDataDir()
		}
		st, err := readState(dataDir)
		if errors.Is(err, os.ErrNotExist) {
			fmt.Fprintln(cmd.OutOrStdout(), "drydock is not running.")
			return nil
		}
		if err != nil {
			return err
		}
		proc, err := os.FindProcess(st.PID)
		if err == nil {
			err = proc.Signal(syscall.SIGTERM)
		}
		if err != nil {
			os.Remove(filepath.Join(dataDir, server.StateFile))
			fmt.Fprintln(cmd.OutOrStdout(), "drydock is not running.")
			return nil
		}
		for i := 0; i < 300; i++ {
			// The server removes its state file as the last step of a
			// graceful stop; an exited process no longer takes signals.
			_, statErr := os.Stat(filepath.Join(dataDir, server.StateFile))
			if errors.Is(statErr, os.ErrNotExist) || proc.Signal(syscall.Signal(0)) != nil {
				fmt.Fprintln(cmd.OutOrStdout(), "drydock stopped.")
				return nil
			}
			time.Sleep(100 * time.Millisecond)
		}
		return fmt.Errorf("drydock (pid %d) did not stop within 30s", st.PID)
	})
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "data directory of the server to stop (default $DRYDOCK_DATA_DIR or ~/.drydock/server)")
	return cmd
}
