# The dashboard's plots (ci/nightly/report.sh runs this; gnuplot's SVG terminal, inlined into
# OUT/index.html). report.sh sets, with -e:
#   dir      folder of the data files, and of the SVG files written
#   titles   the series, "target/engine" words; series i's samples are dir/s<i>.dat, columns
#            elapsed_s executions exec_per_s edges corpus (from OUT/stats.csv)
#   engines  series i's engine, word i (AFL++ dashed, libFuzzer solid)
#   colors   series i's colour number, word i: one colour per target
#   have_series  1 when the s<i>.dat files exist (stats.csv had samples), else 0
#   nights   number of nights in dir/history.dat (1: no trend plots), columns
#            index date new known line_percent branch_percent then one edges column per series
set terminal svg size 860,360 dynamic font "sans,11" background rgb "white"
set termoption noenhanced
set datafile separator whitespace
set datafile missing "?"
set grid
set key outside right top
set border 3
set tics nomirror
n = words(titles)
dash(i) = word(engines, i) eq "afl" ? 2 : 1
# Colour per target from a palette of 10 that keeps neighbours apart.
palette = "#1f77b4 #d62728 #2ca02c #9467bd #ff7f0e #17becf #8c564b #e377c2 #7f7f7f #bcbd22"
colour(i) = word(palette, (int(word(colors, i)) - 1) % 10 + 1)

if (have_series) {
    set xlabel "seconds into the run"
    set output dir."/edges.svg"
    set title "Coverage (edges) over time"
    set ylabel "edges"
    plot for [i=1:n] sprintf("%s/s%d.dat", dir, i) using 1:4 with lines lw 2 dt dash(i) lc rgb colour(i) title word(titles, i)

    set output dir."/execs.svg"
    set title "Executions per second"
    set ylabel "exec/s"
    plot for [i=1:n] sprintf("%s/s%d.dat", dir, i) using 1:3 with lines lw 2 dt dash(i) lc rgb colour(i) title word(titles, i)

    set output dir."/corpus.svg"
    set title "Corpus size"
    set ylabel "inputs"
    plot for [i=1:n] sprintf("%s/s%d.dat", dir, i) using 1:5 with lines lw 2 dt dash(i) lc rgb colour(i) title word(titles, i)
}

if (nights > 1) {
    set xlabel "night"
    set xtics rotate by -30
    # No series (a --no-fuzz night): no edges to draw, and gnuplot refuses an empty plot.
    if (n > 0) {
        set output dir."/trend_edges.svg"
        set title "Edges at the end of each night"
        set ylabel "edges"
        plot for [i=1:n] dir."/history.dat" using 1:(column(6 + i)):xtic(2) with linespoints lw 2 pt 7 dt dash(i) lc rgb colour(i) title word(titles, i)
    }

    set output dir."/trend_findings.svg"
    set title "Findings per night"
    set ylabel "findings"
    set style data histograms
    set style histogram rowstacked
    set style fill solid 0.8 border -1
    set boxwidth 0.6
    set yrange [0:*]
    plot dir."/history.dat" using 3:xtic(2) title "new" lc rgb "#c0392b", \
         "" using 4 title "known" lc rgb "#7f8c8d"
    set style data lines
    set yrange [*:*]

    set output dir."/trend_coverage.svg"
    set title "Source coverage per night (llvm-cov)"
    set ylabel "percent"
    set yrange [0:100]
    plot dir."/history.dat" using 1:5:xtic(2) with linespoints lw 2 pt 7 lc rgb "#2471a3" title "lines", \
         "" using 1:6 with linespoints lw 2 pt 5 lc rgb "#d68910" title "branches"
}
