/*
 * spiutil.h — the SPI helper every part uses (spiutil.c).
 */
#ifndef PERFOPT_SPIUTIL_H
#define PERFOPT_SPIUTIL_H

/* SPI_connect(), raising an ERROR when it fails; pair with SPI_finish() */
extern void perfopt_spi_connect(void);

#endif							/* PERFOPT_SPIUTIL_H */
