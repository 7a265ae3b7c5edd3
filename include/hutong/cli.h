/* SPDX-License-Identifier: Apache-2.0 */
/* The hutong command line. */
#ifndef HUTONG_CLI_H
#define HUTONG_CLI_H

/**
 * Run the hutong command line with @argc/@argv as given to main(). Returns
 * the process exit code: 0 ok, 1 runtime failure, 2 bad usage or input.
 * Writes results to stdout, messages to stderr.
 */
int ht_cli_main(int argc, char **argv);

#endif
