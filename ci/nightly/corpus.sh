# shellcheck shell=bash disable=SC2154 # repo, impl: set by ci/main.sh
# Sourced by ci/main.sh: the stored corpus (--corpus DIR) and its atomic replacement.
# Layout: DIR/<target> is a symbolic link to DIR/.gen/<target>-<stamp>/, a directory of inputs
# each named by the SHA-1 of its bytes. A run builds the next generation in DIR/.gen/, fsyncs
# it, and renames a new link over DIR/<target> (rename(2) is atomic): whenever the run is
# killed, DIR/<target> is the old corpus or the new one, whole. Generations no link points to
# are what a killed run left; the next run deletes them.

# corpus_add_files DEST FILE...: each file into DEST under the SHA-1 of its bytes (equal inputs
# once); prints the names it used, one a line.
corpus_add_files() {
    local dest=$1 f sum
    shift
    for f in "$@"; do
        [ -f "$f" ] || continue
        sum=$(sha1sum <"$f")
        sum=${sum%% *}
        [ -e "$dest/$sum" ] || cp "$f" "$dest/$sum"
        echo "$sum"
    done
}

# corpus_files DIR: the regular, non-hidden files directly in DIR (nothing if DIR is absent).
corpus_files() {
    [ -d "$1" ] || return 0
    find -L "$1" -maxdepth 1 -type f ! -name '.*' ! -name 'README*' | sort
}

# corpus_tidy STORE: deletes the generations no link of STORE points to (a killed run's).
corpus_tidy() {
    local store=$1 gen link keep
    [ -d "$store/.gen" ] || return 0
    for gen in "$store"/.gen/*; do
        [ -d "$gen" ] || continue
        if [[ "${gen##*/}" == *-manual ]]; then
            # corpus_commit was killed between its two renames: the hand-made folder goes back.
            [ -e "$store/$(basename "$gen" -manual)" ] ||
                mv -T "$gen" "$store/$(basename "$gen" -manual)"
            continue
        fi
        keep=0
        for link in "$store"/*; do
            [ -L "$link" ] && [ "$(readlink "$link")" = ".gen/${gen##*/}" ] && keep=1
        done
        [ "$keep" -eq 1 ] || rm -rf "$gen"
    done
}

# corpus_new_generation STORE TARGET: makes and prints a fresh generation directory.
corpus_new_generation() {
    local dir
    mkdir -p "$1/.gen"
    dir=$1/.gen/$2-$(date -u +%Y%m%dT%H%M%SZ)-$$
    mkdir "$dir"
    echo "$dir"
}

# corpus_commit STORE TARGET GENERATION: GENERATION (made by corpus_new_generation and filled)
# becomes STORE/TARGET: its files and directory are fsynced, then a new link is renamed over
# the old one, then the old generation is deleted.
corpus_commit() {
    local store=$1 target=$2 gen=$3 old="" tmp
    find "$gen" -type f -exec sync -- {} + 2>/dev/null || sync
    sync -- "$gen"
    if [ -L "$store/$target" ]; then
        old=$store/$(readlink "$store/$target")
    elif [ -e "$store/$target" ]; then
        # A plain directory (made by hand): moved into .gen first, so the link can replace it.
        # Killed between the two renames, the inputs are in .gen/<target>-manual, which
        # corpus_tidy moves back.
        old=$store/.gen/$target-manual
        mv -T "$store/$target" "$old"
    fi
    tmp=$store/.$target.link.$$
    ln -sfn ".gen/${gen##*/}" "$tmp"
    mv -T "$tmp" "$store/$target"
    sync -- "$store"
    [ -z "$old" ] || [ "$old" = "$gen" ] || rm -rf "$old"
}
