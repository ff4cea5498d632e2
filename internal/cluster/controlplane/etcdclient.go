package controlplane

import (
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/logutil"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/kubernetes"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericfeatures "k8s.io/apiserver/pkg/features"
	"k8s.io/apiserver/pkg/registry/generic"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	apistorage "k8s.io/apiserver/pkg/storage"
	cacherstorage "k8s.io/apiserver/pkg/storage/cacher"
	"k8s.io/apiserver/pkg/storage/etcd3"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/apiserver/pkg/storage/storagebackend/factory"
	"k8s.io/apiserver/pkg/storage/value/encrypt/identity"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
)

// The apiserver's storage factory opens one etcd client, each with its own
// gRPC connection to kine, for every resource it stores (about 70): on both
// ends each connection holds HTTP/2 buffers and a handful of goroutines.
// sharedETCD gives all the resources of a transport one client instead, as
// etcd's own clients do: their requests and watches are multiplexed on one
// connection (kine answers the watches of one stream under a lock, as etcd
// does). It takes the place of the storage decorator the apiserver's options
// chose, building the same storage — the etcd3 store, under the watch cache
// when the options enable it — on the shared client.
type sharedETCD struct {
	mu      sync.Mutex
	clients map[string]*sharedClient
}

// sharedClient is one transport's client and compactor, with the number of
// storages using them.
type sharedClient struct {
	client    *kubernetes.Client
	compactor etcd3Compactor // nil without compaction
	refs      int
}

// etcd3Compactor is the compactor etcd3.NewCompactor returns.
type etcd3Compactor = interface {
	etcd3.Compactor
	Stop()
}

// The etcd client's timeouts, those of the apiserver's own
// (k8s.io/apiserver/pkg/storage/storagebackend/factory).
const (
	etcdDialTimeout      = 20 * time.Second
	etcdKeepaliveTime    = 30 * time.Second
	etcdKeepaliveTimeout = 10 * time.Second
)

// wrap returns getter with its storages on shared clients, when it is the
// apiserver options' getter (whose choice of storage it knows); any other
// getter, or nil, is returned as is.
func (se *sharedETCD) wrap(getter generic.RESTOptionsGetter) generic.RESTOptionsGetter {
	f, ok := getter.(*genericoptions.StorageFactoryRestOptionsFactory)
	if !ok {
		return getter
	}
	return sharedGetter{factory: f, shared: se}
}

// sharedGetter is the apiserver options' RESTOptionsGetter with its
// storages on shared clients.
type sharedGetter struct {
	factory *genericoptions.StorageFactoryRestOptionsFactory
	shared  *sharedETCD
}

// GetRESTOptions returns the factory's options with the decorator it
// chose replaced by the same storage on the shared client: under the watch
// cache unless the options disable it for all resources or this one.
func (g sharedGetter) GetRESTOptions(resource schema.GroupResource, example runtime.Object) (generic.RESTOptions, error) {
	opts, err := g.factory.GetRESTOptions(resource, example)
	if err != nil {
		return opts, err
	}
	if t := opts.StorageConfig.Type; t != "" && t != storagebackend.StorageTypeETCD3 {
		return opts, nil
	}
	cached, err := watchCached(&g.factory.Options, resource)
	if err != nil {
		return generic.RESTOptions{}, err
	}
	if cached {
		opts.Decorator = g.shared.cachedStorage
	} else {
		opts.Decorator = g.shared.rawStorage
	}
	return opts, nil
}

// watchCached tells whether the apiserver's options put the resource's
// storage under the watch cache: unless they disable the cache, or give
// the resource a size of 0 or less.
func watchCached(o *genericoptions.EtcdOptions, resource schema.GroupResource) (bool, error) {
	if !o.EnableWatchCache {
		return false, nil
	}
	sizes, err := genericoptions.ParseWatchCacheSizes(o.WatchCacheSizes)
	if err != nil {
		return false, err
	}
	size, ok := sizes[resource]
	return !ok || size > 0, nil
}

// acquire returns the client of the transport, opening it (and its
// compactor, when compactionInterval is not 0) on first use, and the
// function that releases it: the last release closes it.
func (se *sharedETCD) acquire(t storagebackend.TransportConfig, compactionInterval time.Duration) (*sharedClient, func(), error) {
	key := fmt.Sprintf("%v|%v|%v|%v", t.ServerList, t.KeyFile, t.CertFile, t.TrustedCAFile)
	se.mu.Lock()
	defer se.mu.Unlock()
	sc := se.clients[key]
	if sc == nil {
		if t.KeyFile != "" || t.CertFile != "" || t.TrustedCAFile != "" || t.EgressLookup != nil {
			return nil, nil, fmt.Errorf("shared etcd client: transport %v: only plain endpoints are supported", t.ServerList)
		}
		client, err := newETCDClient(t.ServerList)
		if err != nil {
			return nil, nil, err
		}
		sc = &sharedClient{client: client}
		// A compactor of its own, not StartCompactorPerEndpoint's one per
		// endpoint: that one the apiserver's own clients (above) share,
		// and stop when the last of their storages goes. Compactions of
		// two compactors are safe (a compare-and-swap on one key, as
		// between several apiservers).
		if compactionInterval != 0 {
			sc.compactor = etcd3.NewCompactor(client.Client, compactionInterval, clock.RealClock{}, nil)
		}
		if se.clients == nil {
			se.clients = map[string]*sharedClient{}
		}
		se.clients[key] = sc
	}
	sc.refs++
	var once sync.Once
	return sc, func() {
		once.Do(func() {
			se.mu.Lock()
			defer se.mu.Unlock()
			if sc.refs--; sc.refs > 0 {
				return
			}
			if sc.compactor != nil {
				sc.compactor.Stop()
			}
			_ = sc.client.Close()
			delete(se.clients, key)
		})
	}, nil
}

// newETCDClient opens a client of the endpoints, as the apiserver does
// without TLS, tracing and metrics, and waits until it is connected.
func newETCDClient(endpoints []string) (*kubernetes.Client, error) {
	logger, err := logutil.CreateDefaultZapLogger(zapcore.ErrorLevel)
	if err != nil {
		logger = zap.NewNop()
	}
	client, err := kubernetes.New(clientv3.Config{
		Endpoints:            endpoints,
		DialTimeout:          etcdDialTimeout,
		DialKeepAliveTime:    etcdKeepaliveTime,
		DialKeepAliveTimeout: etcdKeepaliveTimeout,
		Logger:               logger.Named("etcd-client"),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client of %v: %w", endpoints, err)
	}
	// As the apiserver's own clients: each request's storage latency is
	// recorded in its context.
	client.KV = etcd3.NewETCDLatencyTracker(client.KV)
	return client, nil
}

// rawStorage is generic.UndecoratedStorage on the shared client: the etcd3
// store of the resource.
func (se *sharedETCD) rawStorage(
	config *storagebackend.ConfigForResource,
	resourcePrefix string,
	_ func(obj runtime.Object) (string, error),
	newFunc func() runtime.Object,
	newListFunc func() runtime.Object,
	_ apistorage.AttrFunc,
	_ apistorage.IndexerFuncs,
	_ *cache.Indexers) (apistorage.Interface, factory.DestroyFunc, error) {
	sc, release, err := se.acquire(config.Transport, config.CompactionInterval)
	if err != nil {
		return nil, nil, err
	}
	transformer := config.Transformer
	if transformer == nil {
		transformer = identity.NewEncryptCheckTransformer()
	}
	versioner := apistorage.APIObjectVersioner{}
	decoder := etcd3.NewDefaultDecoder(config.Codec, versioner)
	unsafeDeletion := utilfeature.DefaultFeatureGate.Enabled(genericfeatures.AllowUnsafeMalformedObjectDeletion)
	if unsafeDeletion {
		transformer = etcd3.WithCorruptObjErrorHandlingTransformer(transformer)
		decoder = etcd3.WithCorruptObjErrorHandlingDecoder(decoder)
	}
	var compactor etcd3.Compactor
	if sc.compactor != nil {
		compactor = sc.compactor
	}
	store, err := etcd3.New(sc.client, compactor, config.Codec, newFunc, newListFunc, config.Prefix, resourcePrefix, config.GroupResource, transformer, config.LeaseManagerConfig, decoder, versioner)
	if err != nil {
		release()
		return nil, nil, err
	}
	var once sync.Once
	destroy := func() {
		// Called more than once: subresources share the storage.
		once.Do(func() {
			store.Close()
			release()
		})
	}
	var s apistorage.Interface = store
	if unsafeDeletion {
		s = etcd3.NewStoreWithUnsafeCorruptObjectDeletion(s, config.GroupResource)
	}
	return s, destroy, nil
}

// cachedStorage is genericregistry.StorageWithCacher on the shared client:
// the resource's etcd3 store under its watch cache.
func (se *sharedETCD) cachedStorage(
	config *storagebackend.ConfigForResource,
	resourcePrefix string,
	keyFunc func(obj runtime.Object) (string, error),
	newFunc func() runtime.Object,
	newListFunc func() runtime.Object,
	getAttrsFunc apistorage.AttrFunc,
	triggerFuncs apistorage.IndexerFuncs,
	indexers *cache.Indexers) (apistorage.Interface, factory.DestroyFunc, error) {
	s, destroyRaw, err := se.rawStorage(config, resourcePrefix, keyFunc, newFunc, newListFunc, getAttrsFunc, triggerFuncs, indexers)
	if err != nil {
		return nil, nil, err
	}
	cacher, err := cacherstorage.NewCacherFromConfig(cacherstorage.Config{
		Storage:             s,
		Versioner:           apistorage.APIObjectVersioner{},
		GroupResource:       config.GroupResource,
		EventsHistoryWindow: config.EventsHistoryWindow,
		ResourcePrefix:      resourcePrefix,
		KeyFunc:             keyFunc,
		NewFunc:             newFunc,
		NewListFunc:         newListFunc,
		GetAttrsFunc:        getAttrsFunc,
		IndexerFuncs:        triggerFuncs,
		Indexers:            indexers,
		Codec:               config.Codec,
	})
	if err != nil {
		destroyRaw()
		return nil, nil, err
	}
	delegator := cacherstorage.NewCacheDelegator(cacher, s)
	var once sync.Once
	return delegator, func() {
		once.Do(func() {
			delegator.Stop()
			cacher.Stop()
			destroyRaw()
		})
	}, nil
}
