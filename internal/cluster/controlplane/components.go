package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/spf13/pflag"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	genericregistry "k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/util/compatibility"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection"
	cliflag "k8s.io/component-base/cli/flag"
	"k8s.io/klog/v2"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	apiserveroptions "k8s.io/kubernetes/cmd/kube-apiserver/app/options"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	controllermanageroptions "k8s.io/kubernetes/cmd/kube-controller-manager/app/options"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	scheduleroptions "k8s.io/kubernetes/cmd/kube-scheduler/app/options"

	"github.com/drydock-dev/drydock/internal/gctune"
)

// flexVolumeDir is the controller manager's FlexVolume plugin directory in
// the data directory.
const flexVolumeDir = "flexvolume"

// Once the controllers have started and filled their caches (steadyAfter
// after the apiserver is ready), the process collects garbage at
// steadyGCPercent (see gctune): measured with a Deployment of 2 replicas on
// 2 nodes, the control plane's heap then peaks at ~1.3× its ~115 MiB live
// data instead of ~2×, for about one more collection a minute at idle.
const (
	steadyAfter     = 10 * time.Second
	steadyGCPercent = 30
)

// Shutdown bounds: past them Run returns anyway (the process then exits).
const (
	controllersStopTimeout = 20 * time.Second
	apiserverStopTimeout   = 60 * time.Second
)

// run starts storage, the apiserver and, once it is ready, the controller
// manager and the scheduler; it stops them in the reverse order when ctx is
// done or one of them fails.
func run(ctx context.Context, s *settings) error {
	start := time.Now()
	c, err := ensurePKI(s)
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	st, err := startStorage(s)
	if err != nil {
		return err
	}
	defer st.stop()

	// Loopback clients should not log the apiserver's warnings.
	rest.SetDefaultWarningHandler(rest.NoWarnings{})

	// Each component's options, from the flags its command would be given.
	// They share the process' feature gates and component versions, which
	// are set once, after all flags are parsed.
	apiOpts, err := apiserverOptions(s, c, st.endpoint)
	if err != nil {
		return err
	}
	cmOpts, err := controllerManagerOptions(s, c)
	if err != nil {
		return err
	}
	schedOpts, err := schedulerOptions(c)
	if err != nil {
		return err
	}
	if err := compatibility.DefaultComponentGlobalsRegistry.Set(); err != nil {
		return fmt.Errorf("feature gates: %w", err)
	}

	// The apiserver.
	apiCtx, stopAPI := context.WithCancel(context.Background())
	defer stopAPI()
	completed, err := apiOpts.Complete(apiCtx)
	if err != nil {
		return fmt.Errorf("kube-apiserver: %w", err)
	}
	if errs := completed.Validate(); len(errs) > 0 {
		return fmt.Errorf("kube-apiserver: %w", utilerrors.NewAggregate(errs))
	}
	apiDone := make(chan error, 1)
	go func() { apiDone <- runAPIServer(apiCtx, completed) }()
	stopAPIServer := func() error {
		stopAPI()
		select {
		case err := <-apiDone:
			return err
		case <-time.After(apiserverStopTimeout):
			return errors.New("kube-apiserver did not stop in time")
		}
	}

	if err := waitReady(ctx, s, c, apiDone); err != nil {
		stopErr := stopAPIServer()
		if ctx.Err() != nil && stopErr == nil {
			return nil // stopped while starting
		}
		return errors.Join(err, stopErr)
	}
	klog.InfoS("kube-apiserver is ready", "cluster", s.Name, "address", s.serverURL(), "after", time.Since(start).Round(time.Millisecond))

	// The controller manager and the scheduler.
	ctrlCtx, stopControllers := context.WithCancel(context.Background())
	defer stopControllers()
	type result struct {
		component string
		err       error
	}
	ctrlDone := make(chan result, 2)
	go func() { ctrlDone <- result{"kube-controller-manager", runControllerManager(ctrlCtx, cmOpts)} }()
	go func() { ctrlDone <- result{"kube-scheduler", runScheduler(ctrlCtx, schedOpts)} }()
	active := 2
	gctune.Steady(ctrlCtx, steadyAfter, steadyGCPercent)

	var failure error
	select {
	case <-ctx.Done():
		klog.InfoS("stopping the control plane", "cluster", s.Name)
	case err := <-apiDone:
		failure = fmt.Errorf("kube-apiserver stopped: %v", err)
		apiDone <- err // for stopAPIServer
	case r := <-ctrlDone:
		active--
		failure = fmt.Errorf("%s stopped: %v", r.component, r.err)
	}

	// Controllers first, while the apiserver still answers (they release
	// their leases), then the apiserver, then storage (deferred).
	stopControllers()
	deadline := time.After(controllersStopTimeout)
	for ; active > 0; active-- {
		select {
		case r := <-ctrlDone:
			if r.err != nil && failure == nil {
				klog.ErrorS(r.err, "stopping", "component", r.component)
			}
		case <-deadline:
			klog.ErrorS(nil, "components did not stop in time", "running", active)
			active = 0
		}
	}
	if err := stopAPIServer(); err != nil && failure == nil {
		klog.ErrorS(err, "stopping kube-apiserver")
	}
	return failure
}

// runAPIServer is the apiserver's app.Run with every resource's storage
// on one etcd client per transport (see sharedETCD).
func runAPIServer(ctx context.Context, opts apiserveroptions.CompletedOptions) error {
	config, err := apiserver.NewConfig(opts)
	if err != nil {
		return err
	}
	shared := &sharedETCD{}
	for _, g := range []*genericregistry.RESTOptionsGetter{
		&config.KubeAPIs.ControlPlane.Generic.RESTOptionsGetter,
		&config.ApiExtensions.GenericConfig.RESTOptionsGetter,
		&config.ApiExtensions.ExtraConfig.CRDRESTOptionsGetter,
		&config.Aggregator.GenericConfig.RESTOptionsGetter,
	} {
		*g = shared.wrap(*g)
	}
	completed, err := config.Complete()
	if err != nil {
		return err
	}
	server, err := apiserver.CreateServerChain(completed)
	if err != nil {
		return err
	}
	prepared, err := server.PrepareRun()
	if err != nil {
		return err
	}
	return prepared.Run(ctx)
}

// waitReady waits until the apiserver's /readyz answers 200, the apiserver
// stops, or ctx is done.
func waitReady(ctx context.Context, s *settings, c *certs, apiDone chan error) error {
	pem, err := os.ReadFile(c.caCert)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer hc.CloseIdleConnections()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-apiDone:
			apiDone <- err
			return fmt.Errorf("kube-apiserver stopped while starting: %v", err)
		case <-tick.C:
		}
		resp, err := hc.Get(s.serverURL() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
}

// parse parses args into a fresh flag set holding the component's named
// flag sets.
func parse(component string, fss cliflag.NamedFlagSets, args []string) error {
	fs := pflag.NewFlagSet(component, pflag.ContinueOnError)
	fs.SetNormalizeFunc(cliflag.WordSepNormalizeFunc)
	for _, name := range fss.Order {
		fs.AddFlagSet(fss.FlagSets[name])
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%s: %w", component, err)
	}
	return nil
}

func apiserverOptions(s *settings, c *certs, etcd string) (*apiserveroptions.ServerRunOptions, error) {
	o := apiserveroptions.NewServerRunOptions()
	args := []string{
		"--bind-address=" + s.bindIP.String(),
		"--secure-port=" + strconv.Itoa(s.APIServerPort),
		"--advertise-address=" + advertiseAddress(s),
		// Endpoints on loopback are invalid: the kubernetes service gets none.
		"--endpoint-reconciler-type=none",
		"--etcd-servers=" + etcd,
		"--storage-backend=etcd3",
		"--service-cluster-ip-range=" + s.serviceCIDR.String(),
		"--tls-cert-file=" + c.apiserverCert,
		"--tls-private-key-file=" + c.apiserverKey,
		"--client-ca-file=" + c.caCert,
		"--authorization-mode=Node,RBAC",
		"--enable-bootstrap-token-auth=true",
		"--allow-privileged=true",
		"--profiling=false",
		"--service-account-issuer=https://" + s.FQDN,
		"--service-account-key-file=" + c.saPub,
		"--service-account-signing-key-file=" + c.saKey,
		"--kubelet-client-certificate=" + c.kubeletClientCert,
		"--kubelet-client-key=" + c.kubeletKey,
		"--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
		"--requestheader-client-ca-file=" + c.frontProxyCACert,
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + c.frontProxyCert,
		"--proxy-client-key-file=" + c.frontProxyKey,
	}
	if err := parse("kube-apiserver", o.Flags(), args); err != nil {
		return nil, err
	}
	o.Metrics = nil // no metrics flags; applying none logs an error per component
	name, err := cache.NewInformerName("kube-apiserver")
	if err != nil {
		return nil, err
	}
	o.InformerName = name
	return o, nil
}

// advertiseAddress is the address the apiserver publishes for itself: the
// bind address, or loopback when it binds to all addresses.
func advertiseAddress(s *settings) string {
	if s.bindIP.IsUnspecified() {
		if s.bindIP.To4() != nil {
			return "127.0.0.1"
		}
		return "::1"
	}
	return s.bindIP.String()
}

func controllerManagerOptions(s *settings, c *certs) (*controllermanageroptions.KubeControllerManagerOptions, error) {
	o, err := controllermanageroptions.NewKubeControllerManagerOptions()
	if err != nil {
		return nil, err
	}
	fss := o.Flags(controllermanager.KnownControllers(), controllermanager.ControllersDisabledByDefault(), controllermanager.ControllerAliases())
	o.ParsedFlags = &fss
	args := []string{
		"--kubeconfig=" + c.controllerManagerKubeconfig,
		// No HTTPS endpoint: the ports would collide between clusters.
		"--secure-port=0",
		"--profiling=false",
		"--cluster-name=" + s.Name,
		"--cluster-cidr=" + s.podCIDR.String(),
		"--allocate-node-cidrs=true",
		"--service-cluster-ip-range=" + s.serviceCIDR.String(),
		"--cluster-signing-cert-file=" + c.caCert,
		"--cluster-signing-key-file=" + c.caKey,
		"--root-ca-file=" + c.caCert,
		"--service-account-private-key-file=" + c.saKey,
		"--use-service-account-credentials=true",
		// Its one client rate limiter (client-go's default: 20 requests
		// a second, burst 30) also creates every controller's service
		// account in kube-system and requests its tokens: some 40
		// controllers, about five requests each at start, queued for
		// seconds before the service-account controller could make the
		// default service accounts (aks create waited ~6 s for them).
		// One local apiserver serves them at once.
		"--kube-api-qps=100",
		"--kube-api-burst=300",
		// Not /usr/libexec/kubernetes/..., which it would create.
		"--flex-volume-plugin-dir=" + s.path(flexVolumeDir),
		"--controllers=*,bootstrapsigner,tokencleaner",
		"--leader-elect=true",
		// Release the lease when stopping (and do not exit the process when
		// it is gone), so a restart takes over at once.
		"--feature-gates=ControllerManagerReleaseLeaderElectionLockOnExit=true",
	}
	if err := parse("kube-controller-manager", fss, args); err != nil {
		return nil, err
	}
	o.Metrics = nil // no metrics flags; applying none logs an error per component
	return o, nil
}

func runControllerManager(ctx context.Context, o *controllermanageroptions.KubeControllerManagerOptions) error {
	cfg, err := o.Config(ctx, controllermanager.KnownControllers(), controllermanager.ControllersDisabledByDefault(), controllermanager.ControllerAliases())
	if err != nil {
		return err
	}
	err = controllermanager.Run(ctx, cfg.Complete())
	if err == nil && ctx.Err() == nil {
		err = errors.New("lost its leader lease")
	}
	return err
}

func schedulerOptions(c *certs) (*scheduleroptions.Options, error) {
	o := scheduleroptions.NewOptions()
	args := []string{
		"--kubeconfig=" + c.schedulerKubeconfig,
		"--secure-port=0",
		"--profiling=false",
		"--leader-elect=true",
	}
	if err := parse("kube-scheduler", *o.Flags, args); err != nil {
		return nil, err
	}
	o.Metrics = nil // no metrics flags; applying none logs an error per component
	name, err := cache.NewInformerName("kube-scheduler")
	if err != nil {
		return nil, err
	}
	o.InformerName = name
	return o, nil
}

// runScheduler is the scheduler's app.Run without its HTTPS endpoint and
// with a leader election that releases the lease on stop: app.Run exits
// the process (os.Exit) when its context ends. The scheduler's clients
// outlive ctx until its events are flushed, so stopping cancels no request
// half-way.
func runScheduler(ctx context.Context, o *scheduleroptions.Options) error {
	clientCtx, cancelClients := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelClients()
	cc, sched, err := scheduler.Setup(clientCtx, o)
	if err != nil {
		return err
	}
	cc.EventBroadcaster.StartRecordingToSink(clientCtx.Done())
	defer cc.EventBroadcaster.Shutdown()

	cc.InformerFactory.Start(ctx.Done())
	cc.DynInformerFactory.Start(ctx.Done())
	cc.InformerFactory.WaitForCacheSync(ctx.Done())
	cc.DynInformerFactory.WaitForCacheSync(ctx.Done())
	if err := sched.WaitForHandlersSync(ctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("handlers are not synchronized: %w", err)
	}
	if cc.LeaderElection == nil {
		sched.Run(ctx)
		return nil
	}
	le := *cc.LeaderElection
	le.ReleaseOnCancel = true
	le.Callbacks = leaderelection.LeaderCallbacks{
		OnStartedLeading: sched.Run,
		OnStoppedLeading: func() {},
	}
	elector, err := leaderelection.NewLeaderElector(le)
	if err != nil {
		return err
	}
	elector.Run(ctx)
	if ctx.Err() == nil {
		return errors.New("lost its leader lease")
	}
	return nil
}
