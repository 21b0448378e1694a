// Tests that keep the gRPC contract honest: the committed Go matches the .proto files, every
// declaration a reader meets carries a comment, and every enum's zero value means "unset".
package kannapb_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	_ "github.com/kanna-cluster/kanna/proto/kannapb" // registers the kanna.v1 files
)

// repoRoot is the module root, two levels above this package's directory, where go test runs us.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"), "tests must run from proto/kannapb")
	return root
}

func TestGeneratedCodeMatchesProtoFiles(t *testing.T) {
	if _, err := exec.LookPath("protoc"); err != nil {
		// CI must prove the check, so there a missing protoc fails instead of skipping.
		if os.Getenv("CI") == "true" {
			t.Fatalf("protoc is not installed, so the generated code cannot be checked: run scripts/deps-proto.sh in CI before the tests (%v)", err)
		}
		t.Skipf("protoc is not installed: run scripts/deps-proto.sh to check the generated code (%v)", err)
	}
	root := repoRoot(t)
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "proto.sh"), "--check")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	require.NoErrorf(t, err, "scripts/proto.sh --check failed:\n%s", out)
}

// Patterns for the declarations that need a comment in a .proto file.
var (
	declarationRe = regexp.MustCompile(`^(message|enum|service)\s+\w+\s*\{`)
	rpcRe         = regexp.MustCompile(`^rpc\s+\w+\s*\(`)
	fieldRe       = regexp.MustCompile(`^(repeated\s+|optional\s+)?[\w.]+(<[\w\s,.]+>)?\s+\w+\s*=\s*\d+\s*;`)
	enumValueRe   = regexp.MustCompile(`^[A-Z][A-Z0-9_]*\s*=\s*\d+\s*;`)
)

func TestEveryProtoDeclarationHasAComment(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "proto", "kanna", "v1", "*.proto"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no .proto files found under proto/kanna/v1")

	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := os.Open(path)
			require.NoError(t, err)
			defer f.Close()

			scanner := bufio.NewScanner(f)
			previous := "" // the last non-blank line before the current one
			for n := 1; scanner.Scan(); n++ {
				line := strings.TrimSpace(scanner.Text())
				if n == 1 {
					require.Truef(t, strings.HasPrefix(line, "// "+filepath.Base(path)+":"),
						"%s must start with a header comment \"// %s: what it is\"", path, filepath.Base(path))
				}
				if line == "" {
					continue
				}
				needsComment := declarationRe.MatchString(line) || rpcRe.MatchString(line) ||
					fieldRe.MatchString(line) || enumValueRe.MatchString(line)
				if needsComment && !strings.HasPrefix(line, "syntax") {
					require.Truef(t, strings.HasPrefix(previous, "//"),
						"%s:%d: %q has no comment on the line above; say what it is for", filepath.Base(path), n, line)
				}
				previous = line
			}
			require.NoError(t, scanner.Err())
		})
	}
}

// upperSnake turns an enum's name into the prefix of its values: RaftMessageType ->
// RAFT_MESSAGE_TYPE.
func upperSnake(name string) string {
	return strings.ToUpper(snakeCase(name))
}

func TestEveryEnumStartsWithAnUnspecifiedZeroValue(t *testing.T) {
	// proto3 decodes a missing enum field as 0, so 0 must mean "the sender did not say", never a
	// real choice; and values carry the enum's name as prefix because enum values share the
	// package's scope.
	count := 0
	protoregistry.GlobalFiles.RangeFilesByPackage("kanna.v1", func(fd protoreflect.FileDescriptor) bool {
		enums := fd.Enums()
		for i := 0; i < enums.Len(); i++ {
			e := enums.Get(i)
			count++
			prefix := upperSnake(string(e.Name())) + "_"
			require.Equalf(t, prefix+"UNSPECIFIED", string(e.Values().ByNumber(0).Name()),
				"%s: value 0 must be %sUNSPECIFIED", e.FullName(), prefix)
			for j := 0; j < e.Values().Len(); j++ {
				v := e.Values().Get(j)
				require.Truef(t, strings.HasPrefix(string(v.Name()), prefix),
					"%s: value %s must start with %s", e.FullName(), v.Name(), prefix)
			}
		}
		return true
	})
	require.Positive(t, count, "no enums registered for package kanna.v1")
}
