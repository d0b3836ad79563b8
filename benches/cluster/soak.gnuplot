# The soak's plot (soak.sh): run from the checkout, `gnuplot benches/cluster/soak.gnuplot`.
set terminal pngcairo size 1200,900 font ",10" noenhanced
set output "docs/soak/soak.png"
set datafile separator ","
set key autotitle columnhead outside right
set xlabel "seconds"
set multiplot layout 3,1 title "grantlog soak: three nodes on one PostgreSQL, mixed load (benches/cluster/soak.sh)"
set ylabel "MiB"
plot "docs/soak/resources.csv" using 1:($2/1024) with lines, "" using 1:($3/1024) with lines, \
     "" using 1:($4/1024) with lines, "" using 1:($6/1024) with lines, "" using 1:($7/1024) with lines, \
     "" using 1:($9/1024) with lines
set ylabel "ms"
plot "docs/soak/latency.csv" using 1:5 with lines, "" using 1:6 with lines, "" using 1:7 with lines
set ylabel "per 10 s"
plot "docs/soak/latency.csv" using 1:2 with lines, "" using 1:3 with lines, "" using 1:($4*100) with lines title "flows (x100)", \
     "docs/soak/resources.csv" using 1:($5*100) with lines title "database connections (x100)"
unset multiplot
