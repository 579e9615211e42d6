/*
 * spiutil.c — connecting to SPI, the one check of SPI_connect()'s result
 * that every part's SQL goes through.
 */
#include "postgres.h"

#include "executor/spi.h"

#include "spiutil.h"

void
perfopt_spi_connect(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "perfopt: SPI_connect failed");
}
