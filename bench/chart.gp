# chart.gp - the chart beside the benchmark table: time per allocation relative to glibc malloc,
# one group of bars per workload, one bar per allocator, log scale (lower is better).
# Input: the file bench writes with --data (a row per workload, a column per allocator, NaN
# where an allocator does not take part). Run: gnuplot -e "datafile='...'; outfile='...'" chart.gp

if (!exists("datafile")) datafile = 'build/bench/chart.dat'
if (!exists("outfile")) outfile = 'build/bench/chart.svg'
load datafile.".gp"   # caption = "CPU, compiler, flags, commit" (written beside the data)

set terminal svg size 1200,560 dynamic enhanced font "Helvetica,12" background rgb "white"
set output outfile
set datafile missing "NaN"

set title "Time per allocation relative to glibc malloc/free (log scale, lower is better)\n "
set label 1 caption at graph 0.5, graph 1.04 center noenhanced font ",10"
set ylabel "× glibc"
set logscale y 10
set yrange [0.01:*]
set grid ytics mytics lc rgb "#dddddd"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border -1
set boxwidth 0.9
set xtics nomirror scale 0
set key outside right top vertical Left reverse noenhanced samplen 1.5
set arrow from graph 0, first 1 to graph 1, first 1 nohead lc rgb "#333333" dt 2 front

# One colour per allocator: the bump pointers grey, smalloc blue, the peers warm colours.
array colours[11] = ["#b0b0b0", "#707070", "#1f5fbf", "#4f9fef", "#9fcfff", \
                     "#d62728", "#ff7f0e", "#bcbd22", "#8c564b", "#e377c2", "#2ca02c"]

plot for [i=2:12] datafile using i:xtic(1) title columnheader(i) lc rgb colours[i-1]
