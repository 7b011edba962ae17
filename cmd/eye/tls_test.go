package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate for 127.0.0.1 and its key,
// and returns the certificate.
func writeCert(t *testing.T, certFile, keyFile string, serial int64) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "eye test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	return cert
}

// TestTLS serves HTTPS with EYE_TLS_CERT and EYE_TLS_KEY: HTTP/2 is
// offered, TLS older than 1.2 refused, and the pages' next links say https.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	cert := writeCert(t, certFile, keyFile, 1)
	var c config
	env := map[string]string{"EYE_DATA_DIR": dir, "EYE_ADDR": "127.0.0.1:0", "EYE_LOG_LEVEL": "warn",
		"EYE_ADMIN_KEY": "eye_tls-admin-key", "EYE_TLS_CERT": certFile, "EYE_TLS_KEY": keyFile}
	if err := c.parse("serve", nil, func(k string) string { return env[k] }, io.Discard); err != nil {
		t.Fatal(err)
	}
	a, err := start(context.Background(), c, io.Discard, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer a.stop()
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	req, _ := http.NewRequest("GET", "https://"+a.addr()+"/events/?limit=1", nil)
	req.Header.Set("Authorization", "Bearer eye_tls-admin-key")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.ProtoMajor != 2 || res.TLS.Version < tls.VersionTLS12 {
		t.Errorf("status %d, protocol %s, TLS version %x: want 200 over HTTP/2 and TLS 1.2 or newer", res.StatusCode, res.Proto, res.TLS.Version)
	}
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11, MinVersion: tls.VersionTLS10}}}
	if res, err := old.Get("https://" + a.addr() + "/healthz"); err == nil {
		res.Body.Close()
		t.Error("TLS 1.1 was accepted")
	}
	_, port, _ := net.SplitHostPort(a.addr())
	henv := map[string]string{"EYE_ADDR": "0.0.0.0:" + port, "EYE_TLS_CERT": certFile}
	if err := run(context.Background(), []string{"health"}, func(k string) string { return henv[k] }, nil, io.Discard, io.Discard); err != nil {
		t.Errorf("eye health over TLS: %v", err)
	}
	if res, err := http.Get("http://" + a.addr() + "/healthz"); err == nil {
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP on the TLS port: %d", res.StatusCode)
		}
	}
}

// TestCertificateReload reads the certificate again once its files change.
func TestCertificateReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, certFile, keyFile, 1)
	c, err := loadCertificate(certFile, keyFile, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	serial := func() int64 {
		got, _ := c.get(nil)
		x, _ := x509.ParseCertificate(got.Certificate[0])
		return x.SerialNumber.Int64()
	}
	if serial() != 1 {
		t.Fatal("not the first certificate")
	}
	writeCert(t, certFile, keyFile, 2)
	later := time.Now().Add(time.Minute)
	os.Chtimes(certFile, later, later)
	if serial() != 1 {
		t.Error("reloaded before the check interval")
	}
	c.mu.Lock()
	c.checked = time.Time{}
	c.mu.Unlock()
	if serial() != 2 {
		t.Error("the renewed certificate was not read")
	}
	os.WriteFile(keyFile, []byte("broken"), 0o600)
	os.Chtimes(keyFile, later.Add(time.Minute), later.Add(time.Minute))
	c.mu.Lock()
	c.checked = time.Time{}
	c.mu.Unlock()
	if serial() != 2 {
		t.Error("a broken renewal replaced the certificate in use")
	}
	if _, err := loadCertificate(certFile, keyFile, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "tls") {
		t.Errorf("a broken key pair loaded: %v", err)
	}
}
