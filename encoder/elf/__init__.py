"""The ELF container: sections, symbols and relocations, through pyelftools."""
