// Authentication and transport security: the cluster key every node-to-node and Cluster call
// carries in the "kanna-cluster-key" metadata (docs/protocol.md, "Authentication"), and the
// optional mutual TLS that encrypts it across machines.
//
// The Game service is open: web servers and players need no secret. The key is compared in
// constant time, so a caller cannot learn it byte by byte from response times.
package server

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Metadata keys of the Kanna gRPC protocol.
const (
	// ClusterKeyHeader carries the cluster key on node-to-node and Cluster calls.
	ClusterKeyHeader = "kanna-cluster-key"
	// ForwardedHeader marks a call a follower forwarded to the leader; it holds the follower's id.
	ForwardedHeader = "kanna-forwarded"
	// AddressHeader, on a Raft stream, carries the sender's gRPC address, so the receiver can
	// answer a peer that gossip has not told it about yet.
	AddressHeader = "kanna-address"
)

// gameServicePrefix starts the full method name of every Game RPC: those need no key.
const gameServicePrefix = "/kanna.v1.Game/"

// keyChecker checks the cluster key of incoming calls.
type keyChecker struct{ key []byte }

func (k keyChecker) check(ctx context.Context, method string) error {
	if strings.HasPrefix(method, gameServicePrefix) {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	got := md.Get(ClusterKeyHeader)
	if len(got) != 1 || subtle.ConstantTimeCompare([]byte(got[0]), k.key) != 1 {
		return status.Errorf(codes.Unauthenticated,
			"%s needs the cluster key in metadata %q and it is missing or wrong: start both sides with the same --cluster-key", method, ClusterKeyHeader)
	}
	return nil
}

func (k keyChecker) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := k.check(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func (k keyChecker) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if err := k.check(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return handler(srv, ss)
}

// WithClusterKey returns ctx carrying key for an outgoing call, for clients of the Cluster service
// (kanna status, the web dashboard, tests).
func WithClusterKey(ctx context.Context, key string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, ClusterKeyHeader, key)
}

// keyCredentials attaches the cluster key to every call a node makes.
type keyCredentials struct{ key string }

func (c keyCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{ClusterKeyHeader: c.key}, nil
}

// RequireTransportSecurity is false: without --tls-* flags the key crosses loopback in plain text,
// as docs/protocol.md says.
func (keyCredentials) RequireTransportSecurity() bool { return false }

// dialOptions are the options of every connection a node opens to a peer.
func dialOptions(key string, tlsCfg *tls.Config) []grpc.DialOption {
	creds := insecure.NewCredentials()
	if tlsCfg != nil {
		creds = credentials.NewTLS(tlsCfg)
	}
	return []grpc.DialOption{
		grpc.WithConnectParams(reconnect),
		grpc.WithKeepaliveParams(ClientKeepalive),
		grpc.WithTransportCredentials(creds),
		grpc.WithPerRPCCredentials(keyCredentials{key: key}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)),
	}
}

// LoadTLS reads a certificate, its key and a CA bundle, and returns the server and client sides of
// mutual TLS: each side presents the certificate and accepts only peers signed by the CA.
func LoadTLS(certFile, keyFile, caFile string) (server, client *tls.Config, err error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("load TLS certificate %s and key %s: %w; pass a PEM certificate and its private key", certFile, keyFile, err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, nil, fmt.Errorf("read TLS CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, nil, fmt.Errorf("TLS CA bundle %s holds no PEM certificate; pass the CA that signed every node's certificate", caFile)
	}
	server = &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS13,
	}
	client = &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		MinVersion:   tls.VersionTLS13,
	}
	return server, client, nil
}
