#!/usr/bin/env bash
# Copies the parts of the State's design system (DSFR) the pages use from its npm package
# (@gouvfr/dsfr, the version tests/e2e/package.json pins) into dsfr/dist, byte for byte:
# the stylesheet, the Marianne fonts it names, the icons it names. `cargo test -p borne-web
# -- --include-ignored` checks the copy against the package.
#   (cd tests/e2e && npm ci --ignore-scripts) && bash crates/borne-web/dsfr/update.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
package="$here/../../../tests/e2e/node_modules/@gouvfr/dsfr"
[ -d "$package/dist" ] || { echo "paquet @gouvfr/dsfr absent : lancez d'abord npm ci dans tests/e2e" >&2; exit 1; }
rm -rf "$here/dist"
mkdir -p "$here/dist"
cp "$package/dist/dsfr.min.css" "$here/dist/"
cp "$package/LICENSE.md" "$here/LICENSE.md"
grep -o 'url([^)]*)' "$package/dist/dsfr.min.css" | sed 's/^url(//; s/)$//' | grep -v '^["'"'"']\?data:' | sort -u |
  while read -r relative; do
    case "$relative" in
      # Marianne in woff2 only (every browser the pages target reads it); no Spectral.
      ../fonts/Marianne-*.woff2|fonts/Marianne-*.woff2) ;;
      *fonts/*) continue ;;
    esac
    path="${relative#../}"
    mkdir -p "$here/dist/$(dirname "$path")"
    cp "$package/dist/$path" "$here/dist/$path"
  done
node -p "require('$package/package.json').version" > "$here/VERSION"
(cd "$here/dist" && find . -type f | sort | sed 's|^\./||') > "$here/files.txt"
echo "DSFR $(node -p "require('$package/package.json').version") copié : $(wc -l < "$here/files.txt") fichiers"
