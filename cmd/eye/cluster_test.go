package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/pgtest"
)

// natsNode is one nats-server process of a test cluster.
type natsNode struct {
	name              string
	port, clusterPort int
	dir               string
	cmd               *exec.Cmd
	logs              *syncBuffer
}

// natsCluster is three nats-server processes clustered on loopback, with
// JetStream.
type natsCluster struct {
	t     *testing.T
	exe   string
	nodes []*natsNode
}

// startNATSCluster starts three clustered nats-server processes, or skips
// the test when there is no nats-server binary (fails when
// EYE_TEST_REQUIRE_SERVICES=1).
func startNATSCluster(t *testing.T) *natsCluster {
	t.Helper()
	exe, err := exec.LookPath("nats-server")
	if err != nil {
		exe = "/usr/sbin/nats-server"
		if _, err := os.Stat(exe); err != nil {
			if os.Getenv("EYE_TEST_REQUIRE_SERVICES") == "1" {
				t.Fatal("no nats-server binary, and EYE_TEST_REQUIRE_SERVICES=1")
			}
			t.Skip("no nats-server binary (Debian: apt-get install nats-server)")
		}
	}
	c := &natsCluster{t: t, exe: exe}
	for i := range 3 {
		c.nodes = append(c.nodes, &natsNode{name: fmt.Sprintf("n%d", i+1), port: freePort(t), clusterPort: freePort(t), dir: t.TempDir()})
	}
	for _, n := range c.nodes {
		c.start(n)
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			if n.cmd != nil {
				n.cmd.Process.Kill()
				n.cmd.Wait()
			}
		}
	})
	// JetStream answers once the cluster elected its meta leader.
	deadline := time.Now().Add(30 * time.Second)
	for {
		nc, err := nats.Connect(c.urls())
		if err == nil {
			js, _ := jetstream.New(nc)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err = js.AccountInfo(ctx)
			cancel()
			nc.Close()
			if err == nil {
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the NATS cluster is not ready: %v\n%s", err, c.nodes[0].logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (c *natsCluster) start(n *natsNode) {
	var routes []string
	for _, o := range c.nodes {
		if o != n {
			routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", o.clusterPort))
		}
	}
	n.logs = &syncBuffer{}
	n.cmd = exec.Command(c.exe, "-a", "127.0.0.1", "-p", fmt.Sprint(n.port), "-js", "-sd", n.dir,
		"--server_name", n.name, "--cluster_name", "eyetest", "--cluster", fmt.Sprintf("nats://127.0.0.1:%d", n.clusterPort),
		"--routes", strings.Join(routes, ","))
	n.cmd.Stdout, n.cmd.Stderr = n.logs, n.logs
	if err := n.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
}

func (c *natsCluster) urls() string {
	var urls []string
	for _, n := range c.nodes {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", n.port))
	}
	return strings.Join(urls, ",")
}

// leader returns the node that leads the stream's replicas.
func (c *natsCluster) leader(stream string) *natsNode {
	nc, err := nats.Connect(c.urls())
	if err != nil {
		c.t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		c.t.Fatalf("stream %s: %v", stream, err)
	}
	info := s.CachedInfo()
	if info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		c.t.Fatalf("the stream has %d replicas (cluster %+v), want 3", info.Config.Replicas, info.Cluster)
	}
	for _, n := range c.nodes {
		if n.name == info.Cluster.Leader {
			return n
		}
	}
	c.t.Fatalf("the stream's leader %q is no node of the cluster", info.Cluster.Leader)
	return nil
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestCluster runs The Eye as it is scaled out: three NATS servers with the
// stream replicated on all three, two ingest processes and two worker
// processes on PostgreSQL. Under load for 30 s, the node leading the
// stream is killed (SIGKILL) and started again; every event that got a 202
// must be in PostgreSQL exactly once.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes for 30 s")
	}
	db := pgtest.Database(t)
	cluster := startNATSCluster(t)
	const key = "eye_cluster-test-admin-key"
	prefix := "eyecluster" + strings.ReplaceAll(eye.NewID(), "-", "")[:8]
	env := func(role string) []string {
		return []string{"EYE_ROLE=" + role, "EYE_DATABASE_URL=" + db, "EYE_NATS_URL=" + cluster.urls(),
			"EYE_NATS_PREFIX=" + prefix, "EYE_ADMIN_KEY=" + key}
	}
	var procs []*process
	for _, role := range []string{"worker", "worker", "ingest", "ingest"} { // a worker first: it migrates the store
		p := startProcess(t, t.TempDir(), env(role)...)
		p.key = key
		procs = append(procs, p)
	}
	defer func() {
		for _, p := range procs {
			p.cmd.Process.Signal(syscall.SIGTERM)
			p.cmd.Wait()
			if t.Failed() {
				t.Logf("logs of a process:\n%s", p.logs)
			}
		}
	}()
	leader := cluster.leader(strings.ToUpper(prefix))

	session := eye.NewID()
	l := &load{acked: map[string]bool{}}
	stop := make(chan struct{})
	first := l.run(procs[2].url, key, session, 4, stop)
	second := l.run(procs[3].url, key, session, 4, stop)
	start := time.Now()
	time.Sleep(8 * time.Second)
	before := len(l.ackedIDs())
	if err := leader.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	leader.cmd.Wait()
	t.Logf("killed %s, the stream's leader, after %s and %d acks", leader.name, time.Since(start).Round(time.Millisecond), before)
	time.Sleep(8 * time.Second)
	cluster.start(leader)
	t.Logf("started %s again after %s", leader.name, time.Since(start).Round(time.Millisecond))
	time.Sleep(30*time.Second - time.Since(start))
	close(stop)
	first.Wait()
	second.Wait()
	acked := l.ackedIDs()
	if len(acked) <= before {
		t.Errorf("no event was acknowledged after the node was killed (%d before, %d in all)", before, len(acked))
	}

	// Every acked event in PostgreSQL, once.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	stored := map[string]int{}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		clear(stored)
		rows, _ := conn.Query(ctx, `SELECT id FROM events WHERE session_id = $1`, session)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			stored[id]++
		}
		missing := 0
		for id := range acked {
			if stored[id] == 0 {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%d acknowledged events are not stored 2 minutes after the load", missing)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for id, n := range stored {
		if n != 1 {
			t.Errorf("event %s stored %d times", id, n)
		}
	}
	var count int64
	if err := conn.QueryRow(ctx, `SELECT event_count FROM sessions WHERE id = $1`, session).Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != int64(len(stored)) {
		t.Errorf("the session counts %d events; %d are stored", count, len(stored))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lost := len(acked) - countAcked(acked, stored)
	t.Logf("30 s, 2 ingest and 2 worker processes, the stream's leader killed and restarted: %d events sent, %d acked (202), %d answered otherwise (503 while the stream had no leader), %d stored, %d acked but lost",
		l.sent, len(acked), l.refused, len(stored), lost)
}

// ackedIDs returns a copy of the ids acknowledged so far.
func (l *load) ackedIDs() map[string]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]bool, len(l.acked))
	for id := range l.acked {
		out[id] = true
	}
	return out
}

func countAcked(acked map[string]bool, stored map[string]int) int {
	n := 0
	for id := range acked {
		if stored[id] > 0 {
			n++
		}
	}
	return n
}
