package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// repoFile reads a file of the repository.
func repoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// dockerfile is a Dockerfile's instructions by stage: each instruction
// with its continuation lines joined.
type dockerfile [][]string

func parseDockerfile(src string) dockerfile {
	var stages dockerfile
	var cur string
	for line := range strings.SplitSeq(src, "\n") {
		line = strings.TrimSpace(line)
		if cur == "" && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if rest, ok := strings.CutSuffix(line, "\\"); ok {
			cur += rest + " "
			continue
		}
		cur += line
		if strings.HasPrefix(strings.ToUpper(cur), "FROM ") {
			stages = append(stages, nil)
		}
		if len(stages) > 0 {
			stages[len(stages)-1] = append(stages[len(stages)-1], cur)
		}
		cur = ""
	}
	return stages
}

// find returns the instructions of a stage with the keyword.
func find(stage []string, keyword string) []string {
	var out []string
	for _, ins := range stage {
		if k, rest, _ := strings.Cut(ins, " "); strings.EqualFold(k, keyword) {
			out = append(out, strings.TrimSpace(rest))
		}
	}
	return out
}

// TestDockerfile checks the image's settings without a Docker engine: a
// static binary built by make build, a small non-root final image with the
// /data volume, a health check, labels, and a listening address reachable
// from outside the container.
func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(repoFile(t, "Dockerfile"))
	if len(stages) != 2 {
		t.Fatalf("%d stages, want 2 (build, then the image)", len(stages))
	}
	build, final := stages[0], stages[1]
	if run := strings.Join(find(build, "RUN"), "\n"); !strings.Contains(run, "make build") {
		t.Errorf("the build stage does not run make build:\n%s", run)
	}
	from := find(final, "FROM")[0]
	if !strings.Contains(from, "distroless/static") && from != "scratch" {
		t.Errorf("final image %q: want a static base (distroless/static or scratch)", from)
	}
	users := find(final, "USER")
	if len(users) == 0 || regexp.MustCompile(`^(root|0)(:|$)`).MatchString(users[len(users)-1]) {
		t.Errorf("USER %v: the image must run as a non-root user", users)
	}
	if v := find(final, "VOLUME"); len(v) != 1 || !strings.Contains(v[0], "/data") {
		t.Errorf("VOLUME %v, want /data", v)
	}
	env := strings.Join(find(final, "ENV"), " ")
	for _, want := range []string{"EYE_DATA_DIR=/data", "EYE_ADDR=0.0.0.0:8000"} {
		if !strings.Contains(env, want) {
			t.Errorf("ENV lacks %s: %s", want, env)
		}
	}
	hc := find(final, "HEALTHCHECK")
	if len(hc) != 1 || !strings.Contains(hc[0], `"health"`) {
		t.Errorf("HEALTHCHECK %v: want eye health (which asks /healthz)", hc)
	}
	labels := strings.Join(find(final, "LABEL"), " ")
	for _, want := range []string{"org.opencontainers.image.title", "org.opencontainers.image.version", "org.opencontainers.image.source"} {
		if !strings.Contains(labels, want) {
			t.Errorf("no label %s", want)
		}
	}
	if e := find(final, "ENTRYPOINT"); len(e) != 1 || !strings.Contains(e[0], "/usr/local/bin/eye") {
		t.Errorf("ENTRYPOINT %v", e)
	}
	if ignore := repoFile(t, ".dockerignore"); !strings.Contains(ignore, "eye-data") {
		t.Error(".dockerignore does not keep eye-data out of the build context")
	}
	if mk := repoFile(t, "Makefile"); !regexp.MustCompile(`(?m)^build:\n\tCGO_ENABLED=0 go build .*\$\(LDFLAGS\)`).MatchString(mk) ||
		!regexp.MustCompile(`(?m)^LDFLAGS := .*-X main\.version=`).MatchString(mk) ||
		!strings.Contains(mk, "main.commit") || !strings.Contains(mk, "git describe") {
		t.Error("make build must build with CGO_ENABLED=0 and stamp the version (git describe) and commit")
	}
}

// compose is the part of a compose file the tests read.
type compose struct {
	Services map[string]struct {
		Image       string            `json:"image"`
		Build       any               `json:"build"`
		Command     []string          `json:"command"`
		Environment map[string]string `json:"environment"`
		Volumes     []string          `json:"volumes"`
		Ports       []string          `json:"ports"`
		StopGrace   string            `json:"stop_grace_period"`
		Healthcheck struct {
			Test []string `json:"test"`
		} `json:"healthcheck"`
		Deploy struct {
			Replicas int `json:"replicas"`
		} `json:"deploy"`
	} `json:"services"`
	Volumes map[string]any `json:"volumes"`
}

func readCompose(t *testing.T, name string) compose {
	t.Helper()
	var c compose
	if err := yaml.Unmarshal([]byte(repoFile(t, name)), &c); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

// TestComposeFiles checks the two compose files: the embedded default as
// one service with its data in a volume, and the scaled-out cluster.
func TestComposeFiles(t *testing.T) {
	one := readCompose(t, "docker-compose.yml")
	eye, ok := one.Services["eye"]
	if !ok || len(one.Services) != 1 {
		t.Fatalf("docker-compose.yml: services %v, want one named eye", one.Services)
	}
	if !slices.ContainsFunc(eye.Volumes, func(v string) bool { return strings.HasSuffix(v, ":/data") }) {
		t.Errorf("the eye service keeps no volume on /data: %v", eye.Volumes)
	}
	if !slices.Contains(eye.Healthcheck.Test, "health") {
		t.Errorf("healthcheck %v: want eye health", eye.Healthcheck.Test)
	}
	if d, err := time.ParseDuration(eye.StopGrace); err != nil || d <= 30*time.Second {
		t.Errorf("stop_grace_period %q: want more than EYE_SHUTDOWN_TIMEOUT (30s)", eye.StopGrace)
	}
	if eye.Environment["EYE_DATABASE_URL"] != "" || eye.Environment["EYE_NATS_URL"] != "" {
		t.Error("the one-machine compose file must use the embedded store and queue")
	}

	scale := readCompose(t, "deploy/docker-compose.scale.yml")
	for _, role := range []string{"ingest", "worker", "api"} {
		s, ok := scale.Services[role]
		if !ok {
			t.Errorf("no %s service", role)
			continue
		}
		env := s.Environment
		if env["EYE_ROLE"] != role || !strings.HasPrefix(env["EYE_DATABASE_URL"], "postgres://") ||
			strings.Count(env["EYE_NATS_URL"], "nats://") != 3 || env["EYE_NATS_REPLICAS"] != "3" {
			t.Errorf("%s: environment %v", role, env)
		}
		if !slices.Contains(s.Healthcheck.Test, "health") {
			t.Errorf("%s: healthcheck %v", role, s.Healthcheck.Test)
		}
	}
	for _, n := range []string{"nats1", "nats2", "nats3"} {
		cmd := strings.Join(scale.Services[n].Command, " ")
		if !strings.Contains(cmd, "-js") || !strings.Contains(cmd, "--cluster_name eye") || !strings.Contains(cmd, "--routes") {
			t.Errorf("%s: command %q: want JetStream in a cluster", n, cmd)
		}
	}
	if _, ok := scale.Services["postgres"]; !ok {
		t.Error("no postgres service")
	}
	if p := scale.Services["proxy"]; len(p.Ports) != 1 {
		t.Errorf("the proxy publishes %v", p.Ports)
	}
	caddy := repoFile(t, "deploy/Caddyfile")
	for _, want := range []string{"/events/batch", "dynamic a ingest 8000", "dynamic a api 8000"} {
		if !strings.Contains(caddy, want) {
			t.Errorf("deploy/Caddyfile lacks %q", want)
		}
	}
}
