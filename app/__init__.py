"""鄂州e政通 core: storage, domain rules and services. Importable without Streamlit."""
