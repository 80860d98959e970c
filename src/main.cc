#include "seshat/shell/shell.h"

int main(int argc, char** argv) { return seshat::shell::seshat_main(argc, argv); }
