package schema

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/theeye/eye"
)

// File is a schema read from a folder: DIR/<category>/<name>.json.
type File struct {
	Path     string
	Category string
	Name     string
	Body     json.RawMessage // compacted
}

// ReadDir reads and compiles every schema of a folder laid out as
// DIR/<category>/<name>.json (a tracking plan kept in git). It returns the
// good files and one error per bad one; files not ending in .json are
// skipped.
func ReadDir(dir string) ([]File, []error) {
	var files []File
	var problems []error
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			problems = append(problems, err)
			return nil
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".json") {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", path, err))
			return nil
		}
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if len(parts) != 2 {
			problems = append(problems, fmt.Errorf("%s: not at <category>/<name>.json", path))
			return nil
		}
		f := File{Path: path, Category: parts[0], Name: strings.TrimSuffix(parts[1], ".json")}
		if reason := checkType(f.Category, f.Name); reason != "" {
			problems = append(problems, fmt.Errorf("%s: %s", path, reason))
			return nil
		}
		body, err := os.ReadFile(path)
		if err != nil {
			problems = append(problems, err)
			return nil
		}
		if _, err := Compile(body); err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", path, err))
			return nil
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, body); err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", path, err))
			return nil
		}
		f.Body = buf.Bytes()
		files = append(files, f)
		return nil
	})
	if err != nil {
		problems = append(problems, err)
	}
	return files, problems
}

// checkType says what is wrong with an event type's names, if anything.
func checkType(category, name string) string {
	switch {
	case strings.TrimSpace(category) == "" || strings.TrimSpace(name) == "":
		return "the category and the name must not be blank"
	case len([]rune(category)) > eye.MaxCategoryLen:
		return fmt.Sprintf("the category is longer than %d characters", eye.MaxCategoryLen)
	case len([]rune(name)) > eye.MaxNameLen:
		return fmt.Sprintf("the name is longer than %d characters", eye.MaxNameLen)
	}
	return ""
}

// CheckType says what is wrong with an event type's names, if anything.
func CheckType(category, name string) error {
	if reason := checkType(category, name); reason != "" {
		return eye.Errorf(eye.EINVALID, "%s", sentence(reason))
	}
	return nil
}

func sentence(s string) string { return strings.ToUpper(s[:1]) + s[1:] + "." }

// Pusher is the part of the store Push writes to.
type Pusher interface {
	Schema(ctx context.Context, category, name string, version int) (eye.Schema, error)
	PutSchema(ctx context.Context, s eye.Schema) (eye.Schema, error)
}

// Push stores each file as a new version of its type's schema, unless the
// type's active schema is the same already (so that loading the same
// folder at every start adds nothing). It returns the versions it made.
func Push(ctx context.Context, store Pusher, files []File) ([]eye.Schema, error) {
	var made []eye.Schema
	for _, f := range files {
		cur, err := store.Schema(ctx, f.Category, f.Name, 0)
		if err == nil && cur.Active && sameJSON(cur.Body, f.Body) {
			continue
		}
		if err != nil && eye.ErrorCode(err) != eye.ENOTFOUND {
			return made, err
		}
		s, err := store.PutSchema(ctx, eye.Schema{Category: f.Category, Name: f.Name, Body: f.Body,
			CreatedAt: time.Now().UTC().Truncate(time.Microsecond)})
		if err != nil {
			return made, err
		}
		made = append(made, s)
	}
	return made, nil
}

func sameJSON(a, b []byte) bool {
	var ca, cb bytes.Buffer
	return json.Compact(&ca, a) == nil && json.Compact(&cb, b) == nil && bytes.Equal(ca.Bytes(), cb.Bytes())
}
