/* SPDX-License-Identifier: Apache-2.0 */
/* The hutong executable. */
#include "hutong/cli.h"

int main(int argc, char **argv) {
    return ht_cli_main(argc, argv);
}
