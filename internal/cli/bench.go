package cli

import (
	"fmt"
	"os"
	"os/exec"

	"github.com/spf13/cobra"

	"github.com/drydock-dev/drydock/internal/bench"
)

func newBenchCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Measure drydock against a peer on this machine."}
	var opts bench.Options
	var sizeMiB int64
	var replicas int
	var storage string
	reg := tool(spec{use: "registry", short: "Benchmark the registry data plane against Debian's docker-registry.",
		long: `Starts drydock and Debian's docker-registry (CNCF Distribution) on loopback, both over TLS with the
same certificate, and prints, as ratios from one run: blob push (monolithic PUT) and pull throughput,
manifest GETs per second (drydock with a bearer token), /oauth2/token issuance per second, drydock's
memory growth while a blob streams in, and the machine's limits measured in the same run: Go's
SHA-256 speed, and the push and pull ceilings, each in a second process over the same TLS (a sink
that hashes, writes, fsyncs and renames the blob; http.ServeFile of the same file), of which both
registries are reported as a percentage. Install the peer with 'apt-get install docker-registry'.

With --replicas N or --storage azureblob it measures drydock against itself instead (no peer):
--replicas N starts a replica set of N servers on one PostgreSQL database and one Azure Blob Storage
container (Azurite), behind haproxy, and reports manifest GETs and /oauth2/token issuance per second
through haproxy over all N replicas against the same through haproxy over the first replica alone
(alternating rounds, with the servers' CPU per request); --storage azureblob reports blob push and pull
throughput on Azure Blob Storage (Azurite) against the filesystem driver. These need PostgreSQL's
server binaries ('apt-get install postgresql'), haproxy ('apt-get install haproxy') and Azurite
('npm install -g azurite'), all run on loopback.`}, func(cmd *cobra.Command) error {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		switch storage {
		case "filesystem", "azureblob":
		default:
			return fmt.Errorf("--storage %q: want filesystem or azureblob", storage)
		}
		if replicas < 0 || replicas == 1 {
			return fmt.Errorf("--replicas %d: want 0 (no replica set) or at least 2 (compared with 1)", replicas)
		}
		if replicas > 0 || storage == "azureblob" {
			_, err := bench.Set(cmd.Context(), bench.SetOptions{Replicas: replicas, AzureBlob: storage == "azureblob",
				BlobSize: sizeMiB << 20, ManifestGETs: opts.ManifestGETs, TokenRequests: opts.TokenRequests, Rounds: opts.Rounds,
				Concurrency: opts.Concurrency, Drydock: exe, Out: cmd.OutOrStdout()})
			return err
		}
		opts.Drydock = exe
		if opts.DockerRegistry == "" {
			if opts.DockerRegistry, err = exec.LookPath("docker-registry"); err != nil {
				return fmt.Errorf("docker-registry not found on PATH: install it with 'apt-get install docker-registry' or pass --docker-registry")
			}
		}
		opts.BlobSize = sizeMiB << 20
		opts.Out = cmd.OutOrStdout()
		_, err = bench.Run(cmd.Context(), opts)
		return err
	})
	reg.Flags().Int64Var(&sizeMiB, "size-mib", 1024, "size of the pushed and pulled blob in MiB")
	reg.Flags().IntVar(&opts.ManifestGETs, "manifest-gets", 20000, "manifest GET requests per registry")
	reg.Flags().IntVar(&opts.TokenRequests, "token-requests", 20000, "/oauth2/token requests")
	reg.Flags().IntVar(&opts.Assignments, "assignments", 100000, "role assignments seeded in a second drydock for the token-at-scale line (0 skips it)")
	reg.Flags().IntVar(&opts.Repositories, "repositories", 10000, "repositories of 10 tags seeded in a third drydock for the many-repositories lines (0 skips them)")
	reg.Flags().IntVar(&opts.Rounds, "rounds", 3, "rounds of every push, pull and at-scale measure, alternating between the compared servers (medians are reported)")
	reg.Flags().IntVar(&opts.Concurrency, "concurrency", 16, "parallel clients for the request-rate tests")
	reg.Flags().StringVar(&opts.DockerRegistry, "docker-registry", "", "path of the docker-registry binary (default: from PATH)")
	reg.Flags().IntVar(&replicas, "replicas", 0, "measure a replica set of this many servers (PostgreSQL, Azurite, haproxy) against one replica, instead of the peer")
	reg.Flags().StringVar(&storage, "storage", "filesystem", "azureblob: measure push and pull on Azure Blob Storage (Azurite) against the filesystem, instead of the peer")
	cmd.AddCommand(reg)

	var sopts bench.SinkOptions
	sink := tool(spec{use: "sink", short: "Serve the push and pull ceilings of 'bench registry' (run by it as a second process).", hidden: true}, func(cmd *cobra.Command) error {
		sopts.Out = cmd.OutOrStdout()
		return bench.Sink(cmd.Context(), sopts)
	})
	sink.Flags().StringVar(&sopts.CertFile, "cert", "", "TLS certificate (PEM)")
	sink.Flags().StringVar(&sopts.KeyFile, "key", "", "TLS key (PEM)")
	sink.Flags().StringVar(&sopts.Dir, "dir", "", "directory where pushed blobs land")
	sink.Flags().StringVar(&sopts.ServeFile, "serve-file", "", "file that GET /blob serves")
	cmd.AddCommand(sink)

	var copts bench.ClusterOptions
	var imageMiB int64
	cl := tool(spec{use: "cluster", short: "Measure pods starting on drydock's nodes.",
		long: `Starts a drydock server of its own (temporary data directory, registry on a free loopback port) and
measures what the document's reader waits for: 'aks create' until the nodes are Ready, 'kubectl apply'
of a 2-replica Deployment until both pods run an image pulled from the registry with the kubelet
identity, and 'aks update --attach-acr' until a pod waiting in ImagePullBackOff runs; then the memory
of each node agent and of each node's containerd. Needs root, containerd, runc and the CNI plugins.`}, func(cmd *cobra.Command) error {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		copts.Drydock, copts.ImageSize, copts.Out = exe, imageMiB<<20, cmd.OutOrStdout()
		_, err = bench.Cluster(cmd.Context(), copts)
		return err
	})
	cl.Flags().Int64Var(&imageMiB, "image-mib", 10, "size of the test image in MiB")
	cl.Flags().IntVar(&copts.Nodes, "node-count", 2, "nodes of the benchmark cluster")
	cmd.AddCommand(cl)
	return cmd
}
