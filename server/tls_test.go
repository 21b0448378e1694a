// Mutual TLS between nodes and from clients: a test CA signs one certificate that every node and
// the test client present, as docs/operations.md describes for --tls-cert, --tls-key, --tls-ca.

package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/kanna-cluster/kanna/proto/kannapb"
)

// writeTestPKI writes a CA and a certificate for 127.0.0.1 signed by it, and returns their paths.
func writeTestPKI(t *testing.T) (certFile, keyFile, caFile string) {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kanna test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kanna node"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)

	write := func(name, typ string, b []byte) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600))
		return path
	}
	return write("node.pem", "CERTIFICATE", der), write("node-key.pem", "EC PRIVATE KEY", keyDER), write("ca.pem", "CERTIFICATE", caDER)
}

func TestNodesJoinAndAnswerOverMutualTLSAndRefusePlaintext(t *testing.T) {
	cert, key, ca := writeTestPKI(t)
	serverTLS, clientTLS, err := LoadTLS(cert, key, ca)
	require.NoError(t, err)
	c := newTestClusterTLS(t, 2, func(cfg *Config) { cfg.ServerTLS, cfg.ClientTLS = serverTLS, clientTLS }, clientTLS)

	require.Eventually(t, func() bool {
		st := c.status(2)
		return st != nil && slices.Equal(st.Voters, []uint64{1, 2})
	}, settle, poll, "node 2 joined over TLS and sees itself a voter")

	plain, err := grpc.NewClient(c.addrs[1], grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer plain.Close()
	_, err = kannapb.NewGameClient(plain).ListRooms(c.ctx(), &kannapb.ListRoomsRequest{})
	require.Error(t, err, "a plaintext client is refused")

	_, _, err = LoadTLS(cert, key, cert+".missing")
	require.ErrorContains(t, err, "CA bundle")
	_, _, err = LoadTLS(ca, key, ca)
	require.ErrorContains(t, err, "certificate")
}
