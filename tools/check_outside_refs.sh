#!/usr/bin/env bash
# Fails when a file of the repository refers to something a person who clones it does not have.
# Every tracked text file (or, outside a git checkout, every file but build trees) is searched for:
#   absolute   an absolute path into a workspace or a home directory (/work/..., /home/<user>/...,
#              /Users/..., /root/...); system paths such as /usr/sbin, /var/lib/veil or /tmp are fine;
#   parent     a relative path with ../ that, resolved from the file's folder, leaves the repository;
#   markdown   a name ending in .md that is no file of the repository (a document kept elsewhere,
#              or a page that was renamed or never written): cite outside documents by title;
#   workspace  the names of the documents the project was started from, which live outside it
#              (the shared folder, the reference spec, the seed text).
# docs/style.md ("The repository stands alone") says why. Before it searches the tree, the script
# runs itself on a planted tree that breaks each rule once, so that a broken pattern cannot pass
# silently. Usage: check_outside_refs.sh [SOURCE_DIR]   (ctest: docs.no_reference_outside_the_repo)
set -euo pipefail

self_name=tools/check_outside_refs.sh

# The files to search, one per line, relative to $1.
list_files() {
  if git -C "$1" rev-parse --is-inside-work-tree >/dev/null 2>&1 &&
     [ "$(git -C "$1" rev-parse --show-toplevel)" = "$(cd "$1" && pwd -P)" ]; then
    git -C "$1" ls-files --cached --others --exclude-standard
  else
    (cd "$1" && find . -type f -not -path './build*' -not -path './.git/*' | sed 's|^\./||')
  fi
}

# Prints one line per finding ("file:line: rule: text"); the count is the number of lines.
scan() {
  local root files=() f
  root=$(cd "$1" && pwd -P)
  while IFS= read -r f; do
    [ "$f" = "$self_name" ] || files+=("$f")
  done < <(list_files "$root")
  [ ${#files[@]} -gt 0 ] || return 0
  cd "$root"

  # absolute
  grep -I -n -H -E '(^|[^A-Za-z0-9_.~$-])/(work|home|Users|root)/' -- "${files[@]}" |
    sed 's/^\([^:]*:[0-9]*\):/\1: absolute path outside the repository: /' || true

  # workspace
  grep -I -n -H -E '(^|[^A-Za-z0-9_])shared/|ibm-e2e-spec|on-disk-format-luks|qemu-facts|seed/[0-9]' \
    -- "${files[@]}" |
    sed 's/^\([^:]*:[0-9]*\):/\1: names a document outside the repository: /' || true

  # parent: resolve each ../ path from the folder of its file.
  local file line text path resolved
  while IFS=: read -r file line text; do
    while IFS= read -r path; do
      resolved=$(realpath -m "$root/$(dirname "$file")/$path")
      case "$resolved/" in
        "$root"/*) ;;
        *) echo "$file:$line: ../ path leaves the repository: $path" ;;
      esac
    done < <(grep -oE '(^|[^.A-Za-z0-9_])(\.\./)+[A-Za-z0-9_.{}-][A-Za-z0-9_./{}-]*' <<<"$text" |
             sed -E 's/^[^.]//')
  done < <(grep -I -n -H -E '(^|[^.A-Za-z0-9_])\.\./' -- "${files[@]}" || true)

  # markdown: a .md name must be a file here (from its file's folder, from the root, or by name).
  local names name base
  names=$(printf '%s\n' "${files[@]}" | grep -E '\.md$' || true)
  while IFS=: read -r file line text; do
    while IFS= read -r name; do
      name=${name#./}
      base=${name##*/}
      [ -f "$root/$(dirname "$file")/$name" ] && continue
      [ -f "$root/$name" ] && continue
      grep -qE "(^|/)${base//./\\.}\$" <<<"$names" && continue
      echo "$file:$line: names $name, which is no file of this repository"
    done < <(grep -oE '[A-Za-z0-9_][A-Za-z0-9_./-]*\.md([^A-Za-z0-9_]|$)' <<<"$text" |
             sed -E 's/\.md[^.]?$/.md/; s/\.md.$/.md/')
  done < <(grep -I -n -H -E '[A-Za-z0-9_]\.md([^A-Za-z0-9_]|$)' -- "${files[@]}" || true)
}

# The planted tree: one offence per rule, and lines that look close but are fine.
self_test() {
  local tmp out
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  mkdir -p "$tmp/docs/formats"
  printf 'fine: docs/formats/x.md, [up](../guide.md), /usr/sbin/cryptsetup, ~/.veil, .../{id}\n' \
    >"$tmp/docs/formats/x.md"
  printf '# Guide\n' >"$tmp/docs/guide.md"
  printf 'see /wor''k/notes.txt\n' >"$tmp/a.md"
  printf 'see ../../sha''red-notes/x.txt\n' >"$tmp/docs/b.txt"
  printf 'see DESIGN''.md\n' >"$tmp/c.cc"
  printf 'see reference/ibm-e2e''-spec.txt\n' >"$tmp/d.h"
  out=$(scan "$tmp")
  local expect
  for expect in "a.md:1: absolute" "docs/b.txt:1: ../ path" "c.cc:1: names DESIGN.md" \
                "d.h:1: names a document outside"; do
    if ! grep -qF "$expect" <<<"$out"; then
      echo "check_outside_refs: self-test: expected a finding '$expect', got:"
      printf '%s\n' "$out"
      return 1
    fi
  done
  if [ "$(wc -l <<<"$out")" -ne 4 ]; then
    echo "check_outside_refs: self-test: expected 4 findings, got:"
    printf '%s\n' "$out"
    return 1
  fi
}

self_test || { echo "check_outside_refs: the check is broken"; exit 2; }
root=${1:-.}
findings=$(scan "$root")
if [ -n "$findings" ]; then
  printf '%s\n' "$findings"
  echo "check_outside_refs: $(wc -l <<<"$findings") reference(s) to something outside the repository"
  echo "(write what is needed into docs/ and point there; docs/style.md, 'The repository stands alone')"
  exit 1
fi
echo "check_outside_refs: $(list_files "$root" | wc -l) files, none refers outside the repository"
