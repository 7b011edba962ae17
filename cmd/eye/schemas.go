package main

import (
	"context"
	"fmt"
	"io"

	"github.com/theeye/eye/internal/schema"
)

// schemas runs "eye schemas check DIR" (validate a folder of schemas,
// exiting non-zero with each problem) and "eye schemas push DIR" (store
// the schemas that changed as new versions).
func schemas(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const usage = "Usage: eye schemas check DIR | eye schemas push DIR   (DIR/<category>/<name>.json)"
	if len(args) == 0 || (args[0] != "check" && args[0] != "push") {
		return usageError(stderr, usage)
	}
	var c config
	rest, err := c.parseWith("schemas "+args[0], "DIR", args[1:], getenv, stderr, nil)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError(stderr, usage)
	}
	files, problems := schema.ReadDir(rest[0])
	for _, p := range problems {
		fmt.Fprintln(stderr, p)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d problem(s) in %s", len(problems), rest[0])
	}
	if args[0] == "check" {
		fmt.Fprintf(stdout, "%d schema(s) in %s compile.\n", len(files), rest[0])
		return nil
	}
	s, err := openStore(ctx, c, c.logger(stderr), true)
	if err != nil {
		return err
	}
	defer s.Close()
	made, err := schema.Push(ctx, s, files)
	if err != nil {
		return err
	}
	for _, m := range made {
		fmt.Fprintf(stdout, "%s / %s: version %d\n", m.Category, m.Name, m.Version)
	}
	fmt.Fprintf(stdout, "%d schema(s) read, %d new version(s) stored.\n", len(files), len(made))
	return nil
}
